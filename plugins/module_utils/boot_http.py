# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot server: per-MAC iPXE scripts, answer files, disk choice, phone-home.

Standard library only, so it runs on the boot server's own Python; the
pxe_server role installs it as the ``edgefleet-boot`` systemd unit:

    python3 -m ansible_collections.edgefleet.platform.plugins.module_utils.boot_http --config /etc/edgefleet/boot-server.json

The database URL comes from the environment (``EDGEFLEET_ZTP_DB``, set by the
unit's 0600 EnvironmentFile), never from the command line or the config file.

=======================================  =======================================
GET  /boot/entry.ipxe                    the script dnsmasq hands to iPXE
GET  /boot/<mac>.ipxe?serial=..&..       the device's script; an unknown MAC is recorded
GET  /answer/<mac>/<file>                preseed.cfg, user-data, meta-data,
                                         autounattend.xml, finish.sh, phone-home.env
POST /answer/<mac>/disk                  the install disk among the disks the installer sees
POST /phone-home                         the installed device reports back
GET  /files/<name>                       the clients (phone-home, disk picker)
GET  /healthz
=======================================  =======================================

Every refused call is answered with a bare status and logged with its reason,
to the journal and to the ZTP database's boot_log; a token is never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import functools
import http
import json
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
import typing as t
from urllib.parse import parse_qs, urlsplit

from ansible_collections.edgefleet.platform.plugins.module_utils.answer_files import (
    AnswerSettings,
    check_settings,
    render_finish,
    render_meta_data,
    render_phone_home_env,
    render_preseed,
    render_unattend,
    render_user_data,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_rules import (
    boot_decision,
    choose_disk,
    install_intent,
    plain_address,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_scripts import (
    ScriptUrls,
    device_script,
    entry_script,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_tokens import (
    DEFAULT_TTL_SECONDS,
    MAX_BODY,
    BootRefused,
    parse_phone_home,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import ZtpError, normalize_mac

LOG = logging.getLogger("edgefleet.boot")
# Which answer files each install method serves (phone-home.env: all of them).
ANSWER_FILES = {
    "image": ("finish.sh",),
    "preseed": ("preseed.cfg", "finish.sh"),
    "autoinstall": ("user-data", "meta-data", "finish.sh"),
    "unattend": ("autounattend.xml",),
}
CLIENT_FILES = ("edgefleet-phone-home", "edgefleet-phone-home.service", "edgefleet-pick-disk", "edgefleet-phone-home.ps1")
DB_THREADS = ("ztp-db", "ztp-phone-home")  # the threads that own a database connection
STATUS_OF = {"malformed": 400, "not_due": 409}  # every token refusal is a bare 403
_MAC_PATH = r"([0-9a-fA-F]{2}(?:-[0-9a-fA-F]{2}){5})"
ROUTES = {
    "script": re.compile(r"^/boot/%s\.ipxe$" % _MAC_PATH),
    "answer": re.compile(r"^/answer/%s/([a-z.-]+)$" % _MAC_PATH),
    "file": re.compile(r"^/files/([a-z.-]+)$"),
}


class Response(t.NamedTuple):
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


class ServerConfig(t.NamedTuple):
    database: str
    urls: ScriptUrls
    answers: AnswerSettings
    default_image: t.Optional[str] = None
    token_ttl: float = DEFAULT_TTL_SECONDS
    files_dir: t.Optional[str] = None
    # check the caller's MAC in the neighbour table when it is on the same link
    verify_neighbour: bool = True
    arp_table: str = "/proc/net/arp"
    workers: int = 4
    # the proxies whose X-Forwarded-For names the caller: the image server's nginx on this host
    trusted_proxies: t.Tuple[str, ...] = ("127.0.0.1", "::1")


def neighbour_mac(arp_table: str, ip: str) -> t.Optional[str]:
    """The MAC the kernel's neighbour table has for ip (None when routed or unknown)."""
    try:
        with open(arp_table, encoding="ascii") as handle:
            next(handle, None)
            for line in handle:
                parts = line.split()
                if len(parts) >= 4 and parts[0] == ip and parts[3] != "00:00:00:00:00:00":
                    return parts[3].lower()
    except OSError:
        return None
    return None


def _write_batch(calls: list, boot: BootStore) -> list:
    return boot.phone_home_batch(calls)


class PhoneHomeQueue:
    """Phone-homes that arrive together are written together: one writer thread
    takes whatever is queued (up to ``limit``) as one batch, one transaction
    (BootStore.phone_home_batch), so a site's boot storm costs a handful of
    transactions instead of one per IPC, and no write waits on another's lock."""

    def __init__(self, service: "BootService", limit: int = 500) -> None:
        self.service = service
        self.limit = limit
        self.queue = queue.Queue()  # type: queue.Queue[t.Any]
        self.thread = threading.Thread(target=self._run, name=DB_THREADS[1], daemon=True)
        self.thread.start()

    def future(self, call: dict, neighbour: t.Optional[str]) -> concurrent.futures.Future:
        future = concurrent.futures.Future()  # type: concurrent.futures.Future[t.Any]
        self.queue.put((call, neighbour, future))
        return future

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.limit:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)
                    break
                batch.append(item)
            try:
                results = self.service.db(functools.partial(_write_batch, [(item[0], item[1]) for item in batch]))
            except Exception as exc:  # the callers answer 500 and the log has it
                for item in batch:
                    item[2].set_exception(exc)
                continue
            for item, result in zip(batch, results):
                item[2].set_result(result)


class BootService:
    """The routes, over a small pool of database connections (one per worker thread)."""

    def __init__(self, config: ServerConfig, clock: t.Callable[[], float] = time.time) -> None:
        check_settings(config.answers)
        self.config = config
        self.clock = clock
        self._local = threading.local()
        self._stores = []  # type: list[ZtpStore]
        self._lock = threading.Lock()
        ZtpStore(config.database).close()  # migrate once, fail early on a bad URL
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix=DB_THREADS[0])
        self.phone_homes = PhoneHomeQueue(self)

    def close(self) -> None:
        self.phone_homes.close()
        self.pool.shutdown(wait=True)
        with self._lock:
            for store in self._stores:
                store.close()
            self._stores = []

    def _boot(self) -> BootStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = ZtpStore(self.config.database)
            with self._lock:
                self._stores.append(store)
        return BootStore(store, self.clock)

    def db(self, func: t.Callable[[BootStore], t.Any]) -> t.Any:
        """Run func on a pooled connection (SQLite connections stay in their thread):
        right here in a pool or writer thread, else handed to the pool."""
        if threading.current_thread().name.startswith(DB_THREADS):
            return func(self._boot())
        return self.pool.submit(lambda: func(self._boot())).result()

    def refuse(self, exc: BootRefused, client: str, event: str) -> Response:
        LOG.warning("%s refused (%s) from %s: %s", event, exc.why, client, exc.detail)
        self.db(lambda boot: boot.log("%s_refused:%s" % (event, exc.why), exc.detail, exc.mac, exc.serial, client))
        return Response(STATUS_OF.get(exc.why, 403), (exc.why + "\n").encode())

    # GET -------------------------------------------------------------------------
    def get(self, path: str, query: dict, client: str) -> Response:
        if path == "/healthz":
            return Response(200, b"ok\n")
        if path == "/boot/entry.ipxe":
            return Response(200, entry_script(self.config.urls).encode())
        for name, route in ROUTES.items():
            match = route.match(path)
            if match:
                return getattr(self, "_get_" + name)(client, query, *match.groups())
        return Response(404, b"not found\n")

    def _get_script(self, client: str, query: dict, hyp: str) -> Response:
        mac = normalize_mac("boot request", "mac", hyp)

        def decide(boot: BootStore) -> t.Tuple[t.Optional[str], str]:
            view = boot.lookup(mac)
            if view.device is None:
                machine = boot.record_unknown(mac, query, client)
                if machine.get("status") == "linked":
                    view = boot.lookup(mac)
            awaiting = view.device is not None and boot.awaiting_phone_home(view.device["serial"])
            decision = boot_decision(view.device, view.netboot, awaiting)
            intent = install_intent(view.device, self.config.default_image) if view.device and decision.kind == "install" else None
            return device_script(decision, view.device, intent, self.config.urls, mac), decision.kind

        try:
            script, kind = self.db(decide)
        except ZtpError as exc:
            LOG.error("boot script for %s from %s: %s", mac, client, exc)
            return Response(500, b"the ZTP record cannot be booted: see the boot server's log\n")
        if script is None:
            LOG.info("boot script for %s from %s: none (%s)", mac, client, kind)
            return Response(404, b"no boot for this machine\n")
        LOG.info("boot script for %s from %s: %s", mac, client, kind)
        return Response(200, script.encode())

    def _installing(self, boot: BootStore, mac: str, client: str) -> t.Tuple[dict, t.Any]:
        """The device of a MAC that is installing now, else BootRefused (not_due)."""
        view = boot.lookup(mac)
        if view.device is None:
            raise BootRefused("not_due", "unknown MAC", None, mac)
        decision = boot_decision(view.device, view.netboot)
        if decision.kind != "install":
            raise BootRefused("not_due", decision.reason, view.device["serial"], mac)
        if self.config.verify_neighbour:
            seen = neighbour_mac(self.config.arp_table, client)
            if seen is not None and seen != mac:
                raise BootRefused("wrong_mac", "the request came from %s, not %s" % (seen, mac), view.device["serial"], mac)
        return view.device, install_intent(view.device, self.config.default_image)

    def _get_answer(self, client: str, query: dict, hyp: str, name: str) -> Response:
        mac = normalize_mac("answer request", "mac", hyp)
        cfg = self.config

        def serve(boot: BootStore) -> Response:
            device, intent = self._installing(boot, mac, client)
            if name == "phone-home.env":
                token = boot.issue_token(device["serial"], mac, cfg.token_ttl)
                LOG.info("one-time token issued to %s (%s) at %s", device["serial"], mac, client)
                return Response(200, render_phone_home_env(device, token, cfg.answers).encode())
            if name not in ANSWER_FILES[intent.method]:
                raise BootRefused("not_due", "%s is not served for the %s install" % (name, intent.method), device["serial"], mac)
            render = {
                "preseed.cfg": lambda: render_preseed(device, intent, cfg.answers),
                "user-data": lambda: render_user_data(device, intent, cfg.answers),
                "meta-data": lambda: render_meta_data(device),
                "autounattend.xml": lambda: render_unattend(device, intent, cfg.answers),
                "finish.sh": lambda: render_finish(device, intent, cfg.answers),
            }[name]
            kind = "application/xml" if name.endswith(".xml") else "text/plain; charset=utf-8"
            return Response(200, render().encode(), kind)

        try:
            response = self.db(serve)
        except BootRefused as exc:
            return self.refuse(exc, client, "answer")
        except ZtpError as exc:
            LOG.error("answer %s for %s from %s: %s", name, mac, client, exc)
            return Response(500, b"the ZTP record cannot be installed: see the boot server's log\n")
        LOG.info("answer %s served to %s at %s", name, mac, client)
        return response

    def _get_file(self, client: str, query: dict, name: str) -> Response:
        if name not in CLIENT_FILES or not self.config.files_dir:
            return Response(404, b"not found\n")
        try:
            with open(os.path.join(self.config.files_dir, name), "rb") as handle:
                return Response(200, handle.read())
        except OSError:
            return Response(404, b"not found\n")

    # POST ----------------------------------------------------------------------------
    def post(self, path: str, raw: bytes, client: str) -> Response:
        match = ROUTES["answer"].match(path)
        if path == "/phone-home":
            return self._phone_home(raw, client)
        if match and match.group(2) == "disk":
            return self._disk(normalize_mac("disk request", "mac", match.group(1)), raw, client)
        return Response(404, b"not found\n")

    def _phone_home(self, raw: bytes, client: str) -> Response:
        try:
            call, seen = self.phone_home_call(raw, client)
            outcome = self.phone_homes.future(call, seen).result()
        except BootRefused as exc:
            return self.refuse(exc, client, "phone_home")
        return self.phone_home_done(call, outcome, client)

    def phone_home_call(self, raw: bytes, client: str) -> t.Tuple[dict, t.Optional[str]]:
        """The checked call and the caller's MAC where the neighbour table has it; BootRefused if malformed."""
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise BootRefused("malformed", "the body is not JSON: %s" % exc) from None
        call = dict(parse_phone_home(body), source=client)  # where the device is reached (boot_rules.phone_home_address)
        return call, neighbour_mac(self.config.arp_table, client) if self.config.verify_neighbour else None

    def phone_home_done(self, call: dict, outcome: t.Any, client: str) -> Response:
        if isinstance(outcome, BootRefused):
            return self.refuse(outcome, client, "phone_home")
        LOG.info("phone-home of %s (%s) from %s: %s, ip %s", call["serial"], outcome["mac"], client, outcome["state"], outcome.get("ip"))
        if outcome.get("address_note"):
            LOG.warning("phone-home of %s: %s", call["serial"], outcome["address_note"])
        body = {"serial": call["serial"], "hostname": outcome.get("host"), "state": outcome["state"], "netboot": False}
        return Response(201, json.dumps(body).encode(), "application/json")

    def _disk(self, mac: str, raw: bytes, client: str) -> Response:
        def pick(boot: BootStore) -> dict:
            device, intent = self._installing(boot, mac, client)
            try:
                disks = json.loads(raw.decode("utf-8")).get("disks")
            except (ValueError, AttributeError):
                raise BootRefused("malformed", "the body is not {\"disks\": [...]}", device["serial"], mac) from None
            if not isinstance(disks, list):
                raise BootRefused("malformed", "disks is not a list", device["serial"], mac)
            return choose_disk("device %s" % device["serial"], intent.disk_rule, disks)

        try:
            disk = self.db(pick)
        except BootRefused as exc:
            return self.refuse(exc, client, "disk")
        except ZtpError as exc:
            # the device's console shows it; the log keeps it
            reason = str(exc)
            LOG.error("install disk for %s: %s", mac, reason)
            self.db(lambda boot: boot.log("disk_refused:rule", reason, mac, None, client))
            return Response(409, (reason + "\n").encode())
        LOG.info("install disk for %s: %s", mac, disk["name"])
        return Response(200, ("/dev/%s\n" % disk["name"]).encode())


# HTTP ------------------------------------------------------------------------------
# asyncio streams: a site's boot storm is a thousand short connections at once,
# which an event loop holds without a thread each. Deliberately small: GET and
# POST, one request per connection, bounded request line, headers and body.

READ_TIMEOUT = 15.0
MAX_HEADERS = 64
LINE_LIMIT = 8192


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def _read_request(reader: asyncio.StreamReader) -> t.Tuple[str, str, dict, bytes]:
    try:
        line = await reader.readline()
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400)
        method, target = parts[0], parts[1]
        if method not in ("GET", "POST"):
            raise _BadRequest(405)
        headers = {}
        for _line in range(MAX_HEADERS):
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise _BadRequest(400)
            headers[name.strip().lower()] = value.strip()
        else:
            raise _BadRequest(431)
        body = b""
        if method == "POST":
            try:
                length = int(headers.get("content-length", ""))
            except ValueError:
                raise _BadRequest(411) from None
            if not 0 <= length <= MAX_BODY:
                raise _BadRequest(413)
            body = await reader.readexactly(length)
    except (ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
        raise _BadRequest(400) from None
    return method, target, headers, body


def caller_address(peer: str, headers: dict, trusted_proxies: t.Sequence[str]) -> str:
    """The caller's address: the peer's, or the device's when the peer is a trusted proxy.

    Only a trusted proxy's X-Forwarded-For is believed (the image server's
    nginx, which sets it to the address it was called from, replacing what the
    caller sent); its last entry is what that proxy saw. A device calling the
    boot server directly cannot name another address with the header. A trusted
    proxy that names no valid address gets a caller no address is recorded for.
    """
    address = plain_address(peer) or str(peer)
    if address not in trusted_proxies:
        return address
    forwarded = plain_address(headers.get("x-forwarded-for", "").split(",")[-1])
    return forwarded or "unknown (via proxy %s)" % address


async def _respond(service: BootService, method: str, target: str, headers: dict, body: bytes, client: str) -> Response:
    loop = asyncio.get_running_loop()
    parts = urlsplit(target)
    if method == "GET":
        # iPXE's :uristring leaves "+" as it is (RFC 3986): a plus, never a space
        query = dict((k, v[0]) for k, v in parse_qs(parts.query.replace("+", "%2B")).items())
        return await loop.run_in_executor(service.pool, service.get, parts.path, query, client)
    if parts.path != "/phone-home":
        return await loop.run_in_executor(service.pool, service.post, parts.path, body, client)
    # a phone-home waits for its batch without holding a database thread
    try:
        call, seen = service.phone_home_call(body, client)
    except BootRefused as exc:
        return await loop.run_in_executor(service.pool, service.refuse, exc, client, "phone_home")
    outcome = await asyncio.wrap_future(service.phone_homes.future(call, seen))
    if isinstance(outcome, BootRefused):  # logged in the database: a database thread's work
        return await loop.run_in_executor(service.pool, service.phone_home_done, call, outcome, client)
    return service.phone_home_done(call, outcome, client)


def _handler(service: BootService) -> t.Callable[[asyncio.StreamReader, asyncio.StreamWriter], t.Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                method, target, headers, body = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT)
                peer = (writer.get_extra_info("peername") or ("?",))[0]
                client = caller_address(peer, headers, service.config.trusted_proxies)
                response = await _respond(service, method, target, headers, body, client)
            except _BadRequest as exc:
                response = Response(exc.status, b"bad request\n")
            except asyncio.TimeoutError:
                response = Response(408, b"request timeout\n")
            except Exception:  # the device gets a 500, the journal the traceback
                LOG.exception("request failed")
                response = Response(500, b"internal error\n")
            head = ("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: no-store\r\n"
                    "Connection: close\r\nServer: edgefleet-boot\r\n\r\n"
                    % (response.status, http.HTTPStatus(response.status).phrase, response.content_type, len(response.body)))
            writer.write(head.encode("latin-1") + response.body)
            await writer.drain()
        except (ConnectionError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()
    return handle


async def serve(service: BootService, host: str, port: int, stop: t.Optional[asyncio.Event] = None) -> None:
    """Serve until ``stop`` is set (SIGTERM/SIGINT set it when run as the unit)."""
    stop = stop or asyncio.Event()
    server = await asyncio.start_server(_handler(service), host, port, backlog=1024, limit=LINE_LIMIT)
    LOG.info("edgefleet boot server on %s:%d", host, port)
    async with server:
        await stop.wait()


def load_config(path: str) -> t.Tuple[ServerConfig, str, int]:
    """The JSON config the pxe_server role writes; the database URL from the environment."""
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    database = os.environ.get("EDGEFLEET_ZTP_DB")
    if not database:
        raise SystemExit("EDGEFLEET_ZTP_DB is not set (the unit's EnvironmentFile sets it)")
    answers = AnswerSettings(**dict(raw["answers"], ssh_keys=tuple(raw["answers"]["ssh_keys"])))
    config = ServerConfig(
        database=database, urls=ScriptUrls(raw["boot_url"], raw["image_url"]), answers=answers,
        default_image=raw.get("default_image"), token_ttl=float(raw.get("token_ttl", DEFAULT_TTL_SECONDS)),
        files_dir=raw.get("files_dir"), verify_neighbour=bool(raw.get("verify_neighbour", True)),
        workers=int(raw.get("workers", 4)),
        trusted_proxies=tuple(plain_address(p) or p for p in raw.get("trusted_proxies", ServerConfig._field_defaults["trusted_proxies"])))
    return config, raw.get("listen", "0.0.0.0"), int(raw.get("port", 8080))


def main(argv: t.Optional[t.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="edgefleet.platform boot server")
    parser.add_argument("--config", required=True, help="the JSON config (written by the pxe_server role)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(levelname)s %(message)s")
    config, host, port = load_config(args.config)
    service = BootService(config)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(service, host, port, stop)

    try:
        asyncio.run(run())
    finally:
        service.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
