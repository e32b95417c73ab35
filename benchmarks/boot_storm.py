# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot storm: power returns to a site and every IPC netboots at once.

Usage (from the collection root, with the project's virtualenv)::

    .venv/bin/python benchmarks/boot_storm.py                   # 1,000 IPCs, SQLite
    .venv/bin/python benchmarks/boot_storm.py --ipcs 200 --database postgresql://...   # another size, PostgreSQL

One run, on loopback, in a temporary folder:

1. registers N IPCs (one site) in a fresh ZTP database and starts the boot server through its real
   entry point (``python -m ...boot_http``, the database URL in the environment), as the pxe_server
   role runs it;
2. starts nginx (Debian's package, extracted without installing it into ``~/.cache/edgefleet/nginx``
   when there is none on the PATH) serving a static file of the same size as a per-MAC script: the
   limit a static HTTP server sets on this machine, measured in the same run;
3. **script storm**: N concurrent per-MAC script fetches (``GET /boot/<mac>.ipxe``, each IPC its own),
   and the same number of concurrent GETs of nginx's static file;
4. each IPC fetches its one-time token (``phone-home.env``), as its installer does (timed, not the
   storm);
5. **phone-home storm**: N concurrent phone-home calls (``POST /phone-home``), and again N concurrent
   GETs of nginx's static file of the response's size;
6. reads the database back: a **lost registration** is an IPC whose phone-home was not answered 201 or
   that is not ``os_installed`` with netboot off afterwards.

Every request is its own connection (a booting IPC does not reuse one), all opened at once by an
asyncio client in this process. It prints p50, p99, max, errors and lost registrations per phase and
the ratios boot server / nginx, as a Markdown table. Goal: 0 lost registrations, p99 within 3x of
nginx's. Timings are never asserted: the exit status is non-zero only when a registration was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl controller@bench"
NGINX_CACHE = Path.home() / ".cache" / "edgefleet" / "nginx"


def collection_path(tmp: Path) -> Path:
    """A folder with ansible_collections/edgefleet/platform pointing at this checkout."""
    tree = tmp / "collections" / "ansible_collections" / "edgefleet"
    tree.mkdir(parents=True)
    (tree / "platform").symlink_to(ROOT)
    return tmp / "collections"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mac_of(i: int) -> str:
    return "52:54:%02x:%02x:%02x:%02x" % ((i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255)


def find_nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    cached = NGINX_CACHE / "root" / "usr" / "sbin" / "nginx"
    if found:
        return found
    if not cached.exists():
        NGINX_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "nginx"], cwd=NGINX_CACHE, check=True, capture_output=True)
        for deb in NGINX_CACHE.glob("nginx_*.deb"):
            subprocess.run(["dpkg", "-x", str(deb), str(NGINX_CACHE / "root")], check=True)
    return str(cached)


def start_nginx(tmp: Path, sizes: dict) -> tuple:
    root = tmp / "nginx"
    (root / "html").mkdir(parents=True)
    for name, size in sizes.items():
        (root / "html" / name).write_bytes(b"x" * size)
    for folder in (tmp, root, root / "html"):
        os.chmod(folder, 0o755)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text("""
worker_processes auto;
pid %(root)s/nginx.pid;
error_log %(root)s/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(root)s/body;
    proxy_temp_path %(root)s/proxy;
    fastcgi_temp_path %(root)s/fastcgi;
    uwsgi_temp_path %(root)s/uwsgi;
    scgi_temp_path %(root)s/scgi;
    server { listen 127.0.0.1:%(port)d backlog=4096; root %(root)s/html; }
}
""" % {"root": root, "port": port})
    proc = subprocess.Popen([find_nginx(), "-p", str(root), "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def wait_port(port: int) -> None:
    for _attempt in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("nothing listens on port %d" % port)


async def one(port: int, request: bytes, timeout: float) -> tuple:
    """(seconds, status, body) of one request on its own connection; status 0 on error."""
    start = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
        head, _sep, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
    except (OSError, asyncio.TimeoutError, ValueError, IndexError):
        return time.perf_counter() - start, 0, b""
    return time.perf_counter() - start, status, body


def get(path: str) -> bytes:
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode()


def post(path: str, body: bytes) -> bytes:
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (path, len(body))).encode() + body


async def storm(port: int, requests: list, timeout: float) -> list:
    return await asyncio.gather(*(one(port, r, timeout) for r in requests))


def pct(values: list, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(results: list, ok: int) -> dict:
    times = [r[0] for r in results]
    return {"p50": pct(times, 0.5), "p99": pct(times, 0.99), "max": max(times),
            "errors": sum(1 for r in results if r[1] != ok), "n": len(results)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--ipcs", type=int, default=1000, help="IPCs booting at once (default 1000)")
    parser.add_argument("--database", help="a PostgreSQL URL to use instead of a fresh SQLite file (must be empty)")
    parser.add_argument("--workers", type=int, default=4, help="the boot server's database connections (default 4)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a request may take before it counts as an error")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="boot-storm-"))
    collections = collection_path(tmp)
    sys.path.insert(0, str(collections))
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    _AnsibleCollectionFinder(paths=[str(collections)])._install()
    from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

    url = args.database or "sqlite:///%s" % (tmp / "ztp.db")
    fleet = {"regions": ["emea"], "sites": [{"name": "plant-storm", "region": "emea", "topology": "multi_node"}],
             "devices": [{"serial": "STORM-%05d" % i, "mac": mac_of(i), "site": "plant-storm", "role": "worker"} for i in range(args.ipcs)]}
    with ZtpStore(url) as store:
        store.import_data(fleet, "boot storm")

    port = free_port()
    base = "http://127.0.0.1:%d" % port
    config = {"listen": "127.0.0.1", "port": port, "boot_url": base, "image_url": "http://127.0.0.1", "default_image": "golden.img",
              "workers": args.workers, "verify_neighbour": False,
              "answers": {"boot_url": base, "image_url": "http://127.0.0.1", "ssh_keys": [KEY]}}
    (tmp / "boot.json").write_text(json.dumps(config))
    env = dict(os.environ, EDGEFLEET_ZTP_DB=url, PYTHONPATH=str(collections))
    server = subprocess.Popen([sys.executable, "-m", "ansible_collections.edgefleet.platform.plugins.module_utils.boot_http",
                               "--config", str(tmp / "boot.json"), "--log-level", "WARNING"], env=env)
    nginx = None
    try:
        wait_port(port)
        macs = [mac_of(i).replace(":", "-") for i in range(args.ipcs)]
        # sizes of what the boot server answers, for nginx's static files
        script_size = len(asyncio.run(storm(port, [get("/boot/%s.ipxe" % macs[0])], args.timeout))[0][2])
        nginx, nginx_port = start_nginx(tmp, {"script": script_size, "reply": 100})

        rows = {}
        rows["script"] = summary(asyncio.run(storm(port, [get("/boot/%s.ipxe" % m) for m in macs], args.timeout)), 200)
        rows["script-nginx"] = summary(asyncio.run(storm(nginx_port, [get("/script")] * args.ipcs, args.timeout)), 200)

        start = time.perf_counter()
        envs = asyncio.run(storm(port, [get("/answer/%s/phone-home.env" % m) for m in macs], args.timeout))
        tokens_s = time.perf_counter() - start
        calls = []
        for i, (_seconds, status, body) in enumerate(envs):
            values = dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line) if status == 200 else {}
            calls.append(post("/phone-home", json.dumps({
                "token": values.get("EDGEFLEET_TOKEN", "missing-token-" + "x" * 32), "serial": "STORM-%05d" % i,
                "macs": [mac_of(i)], "hardware": {"cpu_cores": 4, "memory_mb": 8192}}).encode()))
        home = asyncio.run(storm(port, calls, args.timeout))
        rows["phone-home"] = summary(home, 201)
        reply_size = max(len(r[2]) for r in home) or 100
        (tmp / "nginx" / "html" / "reply").write_bytes(b"x" * reply_size)
        rows["phone-home-nginx"] = summary(asyncio.run(storm(nginx_port, [get("/reply")] * args.ipcs, args.timeout)), 200)

        with ZtpStore(url) as store:
            states = dict((d["serial"], d["state"]) for d in store.devices())
            netboot_off = set(r[0] for r in store.engine.execute("SELECT serial FROM device_boot WHERE netboot = 0"))
        accepted = [i for i, r in enumerate(home) if r[1] == 201]
        lost = sum(1 for i in range(args.ipcs)
                   if i not in set(accepted) or states["STORM-%05d" % i] != "os_installed" or "STORM-%05d" % i not in netboot_off)
    finally:
        server.terminate()
        server.wait()
        if nginx is not None:
            nginx.terminate()
            nginx.wait()

    print("\n`benchmarks/boot_storm.py --ipcs %d` (%s; Python %s; %d cores; load average %.2f; %s)\n" % (
        args.ipcs, "PostgreSQL" if args.database else "SQLite", platform.python_version(), os.cpu_count() or 0,
        os.getloadavg()[0], time.strftime("%Y-%m-%d %H:%M")))
    print("| %d concurrent | boot server p50 | p99 | max | errors | nginx static p50 | p99 | p99 ratio |" % args.ipcs)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, label in (("script", "per-MAC script (`GET /boot/<mac>.ipxe`)"), ("phone-home", "phone-home (`POST /phone-home`)")):
        ours, limit = rows[name], rows[name + "-nginx"]
        print("| %s | %.3f s | %.3f s | %.3f s | %d | %.3f s | %.3f s | %.1f |" % (
            label, ours["p50"], ours["p99"], ours["max"], ours["errors"], limit["p50"], limit["p99"], ours["p99"] / max(limit["p99"], 1e-6)))
    print("\ntokens fetched (%d answer files, not a storm): %.1f s; lost registrations: **%d**" % (args.ipcs, tokens_s, lost))
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
