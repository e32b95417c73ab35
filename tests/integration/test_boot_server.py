# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot server as the pxe_server role runs it, on loopback, against SQLite and PostgreSQL.

Started through its real entry point (``python -m ...boot_http --config``) with
the database URL in the environment only. A valid phone-home installs the
device; a wrong MAC/token pair, a replay, an expired token and a malformed body
are each refused, logged, and change nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

ROOT = os.environ.get("EDGEFLEET_REPO_ROOT", os.getcwd())
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl controller@ztp"
A, B, C = "52:54:00:0a:00:01", "52:54:00:0a:00:02", "52:54:00:0a:00:03"
FLEET = {
    "regions": ["emea"],
    "sites": [{"name": "plant-a", "region": "emea", "topology": "multi_node"}],
    "devices": [
        {"serial": "SN-A", "mac": A, "site": "plant-a", "role": "control"},
        {"serial": "SN-B", "mac": B, "site": "plant-a", "role": "worker"},
        {"serial": "SN-C", "mac": C, "site": "plant-a", "role": "worker"},
    ],
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, url, tmp_path, ttl=3600):
        self.url = url
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        config = {
            "listen": "127.0.0.1", "port": self.port, "boot_url": self.base, "image_url": "http://127.0.0.1:1",
            "default_image": "debian-12", "token_ttl": ttl, "verify_neighbour": True,
            "files_dir": os.path.join(ROOT, "roles", "pxe_server", "files", "client"),
            "answers": {"boot_url": self.base, "image_url": "http://127.0.0.1:1", "ssh_keys": [KEY]},
        }
        path = tmp_path / ("boot-%d.json" % self.port)
        path.write_text(json.dumps(config))
        env = dict(os.environ, EDGEFLEET_ZTP_DB=url)
        self.log = open(tmp_path / ("boot-%d.log" % self.port), "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ansible_collections.edgefleet.platform.plugins.module_utils.boot_http", "--config", str(path)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _attempt in range(100):
            try:
                if self.get("/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the boot server did not start: %s" % self.stop())

    def request(self, path, data=None, headers=None):
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def get(self, path):
        return self.request(path)

    def post(self, path, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request(path, data, {"Content-Type": "application/json"})

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.seek(0)
        return self.log.read()


@pytest.fixture
def fleet(db_url):
    with ZtpStore(db_url) as store:
        store.import_data(FLEET, "test")
    return db_url


@pytest.fixture
def server(fleet, tmp_path):
    srv = Server(fleet, tmp_path)
    yield srv
    srv.stop()


def state(url):
    """Devices, tokens and netboot flags: what a refused call must leave alone."""
    with ZtpStore(url) as store:
        return (store.devices(with_events=True), store.engine.execute("SELECT * FROM boot_tokens ORDER BY digest"),
                store.engine.execute("SELECT * FROM device_boot ORDER BY serial"))


def refusals(url):
    with ZtpStore(url) as store:
        return [(r["event"], r["serial"]) for r in BootStore(store).log_rows()]


def token_for(server, mac):
    status, body = server.get("/answer/%s/phone-home.env" % mac.replace(":", "-"))
    assert status == 200, body
    env = dict(line.split("=", 1) for line in body.splitlines())
    return env["EDGEFLEET_TOKEN"]


def phone(token, serial, mac):
    return {"token": token, "serial": serial, "macs": [mac], "hardware": {"cpu_cores": 2, "memory_mb": 2048},
            "ssh_host_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey root@ipc"]}


def test_power_on_to_os_installed(server, fleet):
    status, entry = server.get("/boot/entry.ipxe")
    assert status == 200 and "/boot/${mac:hexhyp}.ipxe?serial=${serial:uristring}" in entry
    status, script = server.get("/boot/52-54-00-0a-00-01.ipxe?serial=SN-A&platform=efi")
    assert status == 200 and "kernel http://127.0.0.1:1/deployer/vmlinuz" in script
    status, finish = server.get("/answer/52-54-00-0a-00-01/finish.sh")
    assert status == 200 and "printf '%s\\n' plant-a-c-sna > \"$T/etc/hostname\"" in finish
    status, client = server.get("/files/edgefleet-phone-home")
    assert status == 200 and client.startswith("#!/bin/sh")
    disks = {"disks": [{"name": "vda", "size_bytes": 20 * 1024 ** 3, "removable": False, "transport": "", "model": "", "serial": ""},
                       {"name": "sr0", "size_bytes": 1024 ** 2, "removable": True}]}
    assert server.post("/answer/52-54-00-0a-00-01/disk", disks) == (200, "/dev/vda\n")
    token = token_for(server, A)
    # the install fetched its token as its last step and reboots: its disk, not a second install
    status, script = server.get("/boot/52-54-00-0a-00-01.ipxe")
    assert status == 200 and "sanboot" in script and "kernel" not in script
    status, body = server.post("/phone-home", phone(token, "SN-A", A))
    assert status == 201, body
    assert json.loads(body) == {"serial": "SN-A", "hostname": "plant-a-c-sna", "state": "os_installed", "netboot": False}
    with ZtpStore(fleet) as store:
        dev = store.devices(serial=["SN-A"])[0]
        assert dev["state"] == "os_installed" and dev["hardware"]["cpu_cores"] == 2
        assert BootStore(store).netboot("SN-A") is False
    # the next boot goes to the local disk, and the installer's files are no longer served
    status, script = server.get("/boot/52-54-00-0a-00-01.ipxe")
    assert status == 200 and "sanboot" in script and "kernel" not in script
    assert server.get("/answer/52-54-00-0a-00-01/finish.sh")[0] == 409
    log = server.stop()
    assert token not in log and "phone-home of SN-A" in log


def test_refused_calls_change_nothing_and_are_logged(server, fleet):
    token_a = token_for(server, A)
    token_b = token_for(server, B)
    before = state(fleet)
    cases = [
        (phone(token_a, "SN-A", B), 403),  # A's token with B's MAC
        (phone(token_b, "SN-A", A), 403),  # B's token claiming to be A
        (phone("x" * 43, "SN-A", A), 403),  # no such token
        (b"{not json", 400),
        ({"token": token_a, "serial": "SN-A"}, 400),  # no MACs
        (dict(phone(token_a, "SN-A", A), state="operational"), 400),  # a field the call may not set
    ]
    for body, want in cases:
        assert server.post("/phone-home", body)[0] == want, body
    assert server.post("/phone-home", b"x" * (65 * 1024))[0] == 413
    assert state(fleet) == before
    events = refusals(fleet)
    assert ("phone_home_refused:wrong_mac", "SN-A") in events and ("phone_home_refused:wrong_device", "SN-A") in events
    assert ("phone_home_refused:unknown_token", "SN-A") in events
    assert [e[0] for e in events].count("phone_home_refused:malformed") == 3
    # the real call still works afterwards; its replay does not
    assert server.post("/phone-home", phone(token_a, "SN-A", A))[0] == 201
    after = state(fleet)
    assert server.post("/phone-home", phone(token_a, "SN-A", A))[0] == 403
    assert state(fleet) == after
    assert refusals(fleet)[-1] == ("phone_home_refused:replayed", "SN-A")
    log = server.stop()
    assert token_a not in log and token_b not in log


def test_an_expired_token_is_refused(fleet, tmp_path):
    server = Server(fleet, tmp_path, ttl=1)
    try:
        token = token_for(server, C)
        time.sleep(2.1)
        before = state(fleet)
        assert server.post("/phone-home", phone(token, "SN-C", C))[0] == 403
        assert state(fleet) == before
        assert refusals(fleet)[-1] == ("phone_home_refused:expired", "SN-C")
    finally:
        server.stop()


def test_unknown_and_decommissioned_machines(server, fleet):
    # as QEMU's iPXE sends it: :uristring keeps "+" (a plus, not a space); a blank SMBIOS UUID is no identity
    status, script = server.get("/boot/52-54-00-ff-00-01.ipxe?serial=NOPE&uuid=00000000-0000-0000-0000-000000000000"
                                "&product=Standard%20PC%20(i440FX%20+%20PIIX,%201996)&platform=pcbios&arch=i386")
    assert status == 200 and "not in the ZTP database: recorded, waiting to be claimed" in script
    # a machine whose serial is planned links to its record and boots as that device
    status, script = server.get("/boot/52-54-00-ff-00-02.ipxe?serial=SN-B")
    assert status == 200 and "plant-a-w-snb (SN-B): registered: needs its OS" in script
    with ZtpStore(fleet) as store:
        store.save_devices([{"serial": "SN-C", "state": "decommissioned"}], "test")
        machines = dict((m["mac"], m) for m in BootStore(store).machines())
    assert machines["52:54:00:ff:00:01"]["status"] == "unassigned"
    assert machines["52:54:00:ff:00:01"]["attributes"] == {"serial": "NOPE", "platform": "pcbios", "arch": "i386",
                                                           "product": "Standard PC (i440FX + PIIX, 1996)"}
    assert (machines["52:54:00:ff:00:02"]["status"], machines["52:54:00:ff:00:02"]["device"]) == ("linked", "SN-B")
    assert server.get("/boot/52-54-00-0a-00-03.ipxe")[0] == 404
    assert server.get("/answer/52-54-00-0a-00-03/phone-home.env")[0] == 409


def raw_request(server, data):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return int(b"".join(chunks).split(b" ", 2)[1])


def test_bad_http_is_refused(server, fleet):
    before = state(fleet)
    assert raw_request(server, b"DELETE /boot/entry.ipxe HTTP/1.1\r\n\r\n") == 405
    assert raw_request(server, b"GARBAGE\r\n\r\n") == 400
    assert raw_request(server, b"POST /phone-home HTTP/1.1\r\nHost: x\r\n\r\n") == 411
    assert raw_request(server, b"GET /boot/entry.ipxe HTTP/1.1\r\n" + b"X-A: b\r\n" * 100 + b"\r\n") == 431
    assert raw_request(server, b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n") == 400
    assert raw_request(server, b"GET /nothing HTTP/1.1\r\n\r\n") == 404
    assert state(fleet) == before
    assert server.get("/healthz") == (200, "ok\n")


def test_the_disk_picker_reports_this_machines_disks(server, fleet):
    """The client the installers run, on this machine's real /sys/block: the server's rule decides."""
    picker = os.path.join(ROOT, "roles", "pxe_server", "files", "client", "edgefleet-pick-disk")
    disks = sorted(d for d in os.listdir("/sys/block") if not d.startswith(("loop", "ram", "zram", "sr", "dm-", "md")))
    with ZtpStore(fleet) as store:
        store.save_devices([{"serial": "SN-B", "labels": {"edgefleet.io/os-disk": "serial:NO-SUCH-DISK"}}], "test")
    before = state(fleet)
    done = subprocess.run(["sh", picker, server.base + "/answer/52-54-00-0a-00-02/disk"], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert "rule 'serial:NO-SUCH-DISK' matches no disk" in done.stderr
    for name in disks:
        if int(open("/sys/block/%s/size" % name).read()) * 512 >= 8 * 1024 ** 3:
            assert name in done.stderr  # the reason lists what the machine has
    assert state(fleet) == before
    big = [d for d in disks if int(open("/sys/block/%s/size" % d).read()) * 512 >= 8 * 1024 ** 3
           and open("/sys/block/%s/removable" % d).read().strip() == "0"]
    with ZtpStore(fleet) as store:
        store.save_devices([{"serial": "SN-B", "labels": {"edgefleet.io/os-disk": "single"}}], "test")
    done = subprocess.run(["sh", picker, server.base + "/answer/52-54-00-0a-00-02/disk"], capture_output=True, text=True, check=False)
    if len(big) == 1:
        assert (done.returncode, done.stdout) == (0, "/dev/%s\n" % big[0])
    else:
        assert done.returncode == 1 and ("matches %d disks" % len(big) if big else "matches no disk") in done.stderr


def post_from(server, body, headers=(), source="127.0.0.1"):
    """A phone-home sent from a chosen local address, with extra headers (as a proxy would send it)."""
    data = json.dumps(body).encode()
    head = "POST /phone-home HTTP/1.1\r\nHost: boot\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    head += "".join("%s: %s\r\n" % item for item in headers) + "\r\n"
    with socket.socket() as sock:
        sock.settimeout(30)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(head.encode() + data)
        reply = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def device(url, serial):
    with ZtpStore(url) as store:
        return store.devices(serial=[serial])[0]


def test_the_phone_home_records_the_address_a_dhcp_device_is_reached_at(server, fleet):
    """Behind the image server's nginx (on loopback, X-Forwarded-For replaced by the address it saw)."""
    token = token_for(server, A)
    assert post_from(server, phone(token, "SN-A", A), [("X-Forwarded-For", "192.0.2.31")]) == 201
    dev = device(fleet, "SN-A")
    assert (dev["state"], dev["ip"], dev["facts"]["phone_home"]["address"]) == ("os_installed", "192.0.2.31", "192.0.2.31")
    # the inventory's ansible_host is that address: the configure stage reaches the device with no one typing it in
    assert "phone-home of SN-A (52:54:00:0a:00:01) from 192.0.2.31: os_installed, ip 192.0.2.31" in server.stop()


def test_a_forwarded_address_from_another_caller_is_ignored(server, fleet):
    """Only the proxy the role configures (127.0.0.1, ::1) may name the caller: another local
    address claiming one is recorded as itself, which is no address to reach a device at."""
    token = token_for(server, A)
    assert post_from(server, phone(token, "SN-A", A), [("X-Forwarded-For", "192.0.2.66"), ("X-Real-IP", "192.0.2.66")],
                     source="127.0.0.2") == 201
    dev = device(fleet, "SN-A")
    assert dev["state"] == "os_installed" and dev["ip"] is None and dev["facts"]["phone_home"]["address"] is None
    assert refusals(fleet)[-1] == ("phone_home_address", "SN-A")


def test_a_static_address_is_kept_when_the_call_comes_from_another(server, fleet):
    with ZtpStore(fleet) as store:
        store.save_devices([{"serial": "SN-B", "ip": "192.0.2.50", "labels": {
            "edgefleet.io/net": "static", "edgefleet.io/net-prefix": "24", "edgefleet.io/net-gateway": "192.0.2.1"}}], "test")
    token = token_for(server, B)
    assert post_from(server, phone(token, "SN-B", B), [("X-Forwarded-For", "192.0.2.31")]) == 201
    dev = device(fleet, "SN-B")
    assert (dev["state"], dev["ip"]) == ("os_installed", "192.0.2.50")
    note = "the phone-home came from 192.0.2.31: its static address 192.0.2.50 is kept"
    assert dev["facts"]["phone_home"]["address_note"] == note
    with ZtpStore(fleet) as store:
        assert [(r["event"], r["client"], r["detail"]) for r in BootStore(store).log_rows()] == [("phone_home_address", "192.0.2.31", note)]
    assert "WARNING phone-home of SN-B: " + note in server.stop()


def test_an_earlier_token_stops_working_once_another_is_issued_or_netboot_is_switched_on_again(server, fleet):
    first = token_for(server, C)
    second = token_for(server, C)  # the install fetched phone-home.env again: the first is superseded
    before = state(fleet)
    assert server.post("/phone-home", phone(first, "SN-C", C))[0] == 403
    assert state(fleet) == before
    # the operator reinstalls: netboot off, then on again (ztp_boot); the live token is cancelled
    with ZtpStore(fleet) as store:
        boot = BootStore(store)
        assert boot.set_netboot("SN-C", False) and boot.set_netboot("SN-C", True)
    before = state(fleet)
    assert server.post("/phone-home", phone(second, "SN-C", C))[0] == 403
    assert state(fleet) == before
    assert [e for e in refusals(fleet) if e[1] == "SN-C"] == [("phone_home_refused:replayed", "SN-C")] * 2
    with ZtpStore(fleet) as store:
        why = [r["detail"] for r in BootStore(store).log_rows() if r["serial"] == "SN-C"]
    assert "superseded by a newer answer file" in why[0] and "netboot switched on again (reinstall)" in why[1]
    # the reinstall's own token works
    third = token_for(server, C)
    assert server.post("/phone-home", phone(third, "SN-C", C))[0] == 201
