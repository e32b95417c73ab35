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
import concurrent.futures
import json
import logging
import os
import re
import sys
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="ztp")

    def close(self) -> None:
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
        """Run func on a pooled connection (SQLite connections stay in their thread)."""
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
            decision = boot_decision(view.device, view.netboot)
            intent = install_intent(view.device, self.config.default_image) if decision.kind == "install" else None
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
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError as exc:
                raise BootRefused("malformed", "the body is not JSON: %s" % exc) from None
            call = parse_phone_home(body)
            seen = neighbour_mac(self.config.arp_table, client) if self.config.verify_neighbour else None
            outcome = self.db(lambda boot: boot.phone_home(call, seen))
        except BootRefused as exc:
            return self.refuse(exc, client, "phone_home")
        LOG.info("phone-home of %s (%s) from %s: %s", call["serial"], outcome["mac"], client, outcome["state"])
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
            LOG.error("install disk for %s: %s", mac, exc)
            self.db(lambda boot: boot.log("disk_refused:rule", str(exc), mac, None, client))
            return Response(409, (str(exc) + "\n").encode())
        LOG.info("install disk for %s: %s", mac, disk["name"])
        return Response(200, ("/dev/%s\n" % disk["name"]).encode())


# HTTP ------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    service = None  # type: t.Optional[BootService]
    protocol_version = "HTTP/1.1"
    server_version = "edgefleet-boot"

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(response.body)

    def client(self) -> str:
        """The caller: the image server's nginx on loopback passes the device's address on."""
        peer = self.client_address[0]
        forwarded = self.headers.get("X-Forwarded-For", "")
        if peer in ("127.0.0.1", "::1") and forwarded:
            return forwarded.split(",")[-1].strip()
        return peer

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        parts = urlsplit(self.path)
        query = dict((k, v[0]) for k, v in parse_qs(parts.query).items())
        self._send(t.cast(BootService, self.service).get(parts.path, query, self.client()))

    def do_POST(self) -> None:  # noqa: N802
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._send(Response(413 if length > MAX_BODY else 411, b"a body of at most 64 KiB with Content-Length\n"))
            return
        raw = self.rfile.read(length)
        self._send(t.cast(BootService, self.service).post(urlsplit(self.path).path, raw, self.client()))

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 - the http.server signature
        LOG.debug("%s %s", self.client_address[0], format % args)


class BootHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a site's boot storm queues instead of being refused


def make_server(service: BootService, host: str, port: int) -> BootHTTPServer:
    handler = type("BootHandler", (_Handler,), {"service": service})
    return BootHTTPServer((host, port), handler)


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
        workers=int(raw.get("workers", 4)))
    return config, raw.get("listen", "0.0.0.0"), int(raw.get("port", 8080))


def main(argv: t.Optional[t.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="edgefleet.platform boot server")
    parser.add_argument("--config", required=True, help="the JSON config (written by the pxe_server role)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(levelname)s %(message)s")
    config, host, port = load_config(args.config)
    service = BootService(config)
    server = make_server(service, host, port)
    LOG.info("edgefleet boot server on %s:%d", host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover
        pass
    finally:
        server.server_close()
        service.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
