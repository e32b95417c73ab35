# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The os_install stage play (playbooks/stages/os_install.yml), on SQLite and PostgreSQL.

Nothing logs in to a device waiting for its OS, so the hosts are local
connections only for the record. The phone-home is the real one: the boot server
started through its entry point (as test_boot_server does) hands out the one-time
token and takes the POST /phone-home while the stage waits. A device that does
not phone home in time, and one with a bad install label, are recorded failed in
os_install with the reason; a device with its OS is not touched. The second run
changes nothing, --check is clean, and the discover stage leaves a waiting
device alone.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.tests.integration.helpers import recap, run
from ansible_collections.edgefleet.platform.tests.integration.test_boot_server import Server, phone, post_from, token_for

REPO = os.environ.get("EDGEFLEET_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STAGE = os.path.join(REPO, "playbooks", "stages", "os_install.yml")
# the stage, then a play showing where the run's next stage logs in to each device
STAGE_THEN_CONFIGURE = os.path.join(REPO, "tests", "integration", "playbooks", "os_install_then_configure.yml")
DISCOVER = os.path.join(REPO, "playbooks", "stages", "discover.yml")
A, B, C, D = "52:54:00:0b:00:01", "52:54:00:0b:00:02", "52:54:00:0b:00:03", "52:54:00:0b:00:04"
IMAGE = {"edgefleet.io/install": "image"}
FLEET = {
    "regions": ["emea"],
    "sites": [{"name": "plant-a", "region": "emea", "topology": "single_node"}],
    "devices": [
        {"serial": "SN-A", "mac": A, "site": "plant-a", "role": "control", "labels": IMAGE},  # phones home
        {"serial": "SN-B", "mac": B, "site": "plant-a", "role": "worker", "labels": IMAGE},  # never does
        {"serial": "SN-C", "mac": C, "site": "plant-a", "role": "worker",
         "labels": {"edgefleet.io/install": "image", "edgefleet.io/os-disk": "first"}},  # a bad plan
        {"serial": "SN-D", "mac": D, "site": "plant-a", "role": "worker"},  # arrives with its OS
    ],
}
TIMEOUT = 12


def _inventory(tmp_path, url):
    config = tmp_path / "fleet.ztp.yml"
    config.write_text(yaml.safe_dump({
        "plugin": "edgefleet.platform.ztp", "database": url,
        "compose": {"ansible_connection": "'local'", "ansible_python_interpreter": "'%s'" % sys.executable}}))
    return str(config)


def _play(playbook, inventory, url, env, *extra):
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, playbook,
           "-e", "edgefleet_ztp_database=%s" % url, "-e", "edgefleet_os_install_timeout=%d" % TIMEOUT,
           "-e", "edgefleet_os_install_poll=1", "-e", "edgefleet_os_install_default_image=debian-12"] + list(extra)
    return run(cmd, env)


def _records(url):
    with ZtpStore(url) as store:
        return dict((d["serial"], d) for d in store.devices(with_events=True))


def test_the_stage_waits_for_the_phone_home_and_records_a_timeout(tmp_path, ansible_env, db_url):
    with ZtpStore(db_url) as store:
        store.import_data(FLEET, "test")
        BootStore(store).set_netboot("SN-A", False)  # switched off earlier: the stage switches it back on
    inventory = _inventory(tmp_path, db_url)
    server = Server(db_url, tmp_path)
    phoned = {}

    def installer():
        # the install's last step once the stage has switched netboot on: the token, then the phone-home
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            with ZtpStore(db_url) as store:
                if BootStore(store).netboot("SN-A"):
                    break
            time.sleep(0.2)
        phoned["at"] = time.time()
        # through the image server's nginx, which names the DHCP address it was called from
        phoned["answer"] = post_from(server, phone(token_for(server, A), "SN-A", A), [("X-Forwarded-For", "192.0.2.31")])

    thread = threading.Thread(target=installer)
    try:
        thread.start()
        started = time.time()
        proc = _play(STAGE_THEN_CONFIGURE, inventory, db_url, ansible_env)
        took = time.time() - started
        thread.join(timeout=TIMEOUT)
    finally:
        server.stop()
    assert phoned["answer"] == 201, phoned
    now = _records(db_url)
    # moved by its phone-home while the stage waited: the boot server wrote it, the stage kept it
    assert now["SN-A"]["state"] == "os_installed"
    assert [(e["to"], e["reason"]) for e in now["SN-A"]["events"][-2:]] == [
        ("discovered", "discovered by its network boot"), ("os_installed", "os_install stage")]
    assert "plant-a-c-sna (SN-A): os_installed (already os_installed)" in proc.stdout
    # recorded at the address it called from, which the same run's next stage logs in to
    assert now["SN-A"]["ip"] == "192.0.2.31"
    assert '"msg": "plant-a-c-sna is reached at 192.0.2.31"' in proc.stdout, proc.stdout
    # waited the bound, no longer, and recorded the reason
    assert now["SN-B"]["state"] == "failed" and now["SN-B"]["failed_stage"] == "os_install"
    assert now["SN-B"]["failure_reason"].endswith("no phone-home within %d s (netboot stays on: its phone-home still "
                                                  "records it os_installed)" % TIMEOUT)
    assert TIMEOUT <= took < TIMEOUT + 90
    # a bad label fails before netboot, naming the device and the label
    assert now["SN-C"]["state"] == "failed" and now["SN-C"]["failed_stage"] == "os_install"
    assert "device SN-C: field 'labels.edgefleet.io/os-disk'" in now["SN-C"]["failure_reason"]
    # the device that has its OS is not in the stage
    assert now["SN-D"]["state"] == "registered" and len(now["SN-D"]["events"]) == 1
    with ZtpStore(db_url) as store:
        boot = BootStore(store)
        assert boot.netboot("SN-B") and not boot.netboot("SN-A")  # A's phone-home switched it off again

    # the second run: A has its OS (not in the stage), B times out again with the same reason, C fails again
    again = _play(STAGE, inventory, db_url, ansible_env)
    assert _records(db_url) == now
    assert all(counts["changed"] == 0 for counts in recap(again.stdout).values()), again.stdout
    # --check neither waits nor writes
    started = time.time()
    check = _play(STAGE, inventory, db_url, ansible_env, "--check")
    assert time.time() - started < TIMEOUT + 30
    assert _records(db_url) == now
    assert all(counts["changed"] == 0 for counts in recap(check.stdout).values()), check.stdout

    # discover leaves a device waiting for its OS to this stage (nothing to log in to): B is untouched
    disc = _play(DISCOVER, inventory, db_url, ansible_env, "--limit", "plant-a-w-snb")
    assert "skipping: no hosts matched" in disc.stdout
    assert _records(db_url)["SN-B"] == now["SN-B"]
