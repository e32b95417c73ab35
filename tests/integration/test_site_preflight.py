# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml's preflight stops an undersized fleet before any host is touched."""

from __future__ import annotations

import os

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.tests.integration.helpers import HERE, recap, run

SITE = os.path.join(HERE, "..", "..", "playbooks", "site.yml")

# Two clusters, each wrong in its own way; the IPCs point at a closed loopback port,
# so any attempt to touch them would show up as UNREACHABLE.
FLEET = {
    "regions": [{"name": "emea"}],
    "sites": [{"name": "plant-s", "region": "emea", "topology": "single_node"},
              {"name": "plant-m", "region": "emea", "topology": "multi_node"}],
    "clusters": [
        {"name": "tiny", "site": "plant-s", "workloads": [{"name": "historian", "type": "database"},
                                                          {"name": "gw", "type": "medium"}]},
        {"name": "line", "site": "plant-m", "workloads": [{"name": "a%d" % i, "type": "heavy"} for i in range(12)]},
    ],
    "devices": [
        {"serial": "S-1", "mac": "02:00:00:00:00:01", "site": "plant-s", "cluster": "tiny", "role": "control",
         "ip": "127.0.0.1", "hardware": {"cpu_cores": 2, "memory_mb": 2048, "disk_gb": 32, "disk_type": "hdd"}},
    ] + [
        {"serial": "M-%d" % i, "mac": "02:00:00:00:01:0%d" % i, "site": "plant-m", "cluster": "line", "role": "control",
         "ip": "127.0.0.1", "hardware": {"cpu_cores": 2, "memory_mb": 4096, "disk_gb": 64, "disk_type": "ssd"}}
        for i in range(3)
    ],
}


def fleet(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "ztp.db")
    with ZtpStore(url) as store:
        store.import_data(FLEET, "test")
    config = tmp_path / "fleet.ztp.yml"
    config.write_text("plugin: edgefleet.platform.ztp\ndatabase: %s\ncompose:\n  ansible_port: \"1\"\n" % url)
    return url, str(config)


def test_preflight_lists_every_violation_and_touches_no_host(tmp_path, ansible_env):
    url, config = fleet(tmp_path)
    proc = run(["ansible-playbook", "-i", config, SITE, "-e", "edgefleet_ztp_database=%s" % url], ansible_env, check=False)
    out = proc.stdout
    assert proc.returncode != 0
    assert "does not meet the edge sizing guidelines" in out
    # every violation of both clusters at once
    for host in ("plant-s-c-s1", "plant-m-c-m0", "plant-m-c-m1", "plant-m-c-m2"):
        assert host in out, host
    assert "cluster line" in out
    # nothing but the preflight play ran: no IPC was contacted, nothing was written
    assert list(recap(out)) == ["localhost"]
    assert "UNREACHABLE" not in out
    with ZtpStore(url) as store:
        assert set(d["state"] for d in store.devices()) == {"registered"}


def test_enforcement_off_warns_then_other_stages_run(tmp_path, ansible_env):
    url, config = fleet(tmp_path)
    proc = run(["ansible-playbook", "-i", config, SITE, "-e", "edgefleet_ztp_database=%s" % url,
                "-e", "edgefleet_sizing_enforce=false"], ansible_env, check=False)
    out = proc.stdout
    assert "Sizing violations, reported only" in out and "plant-s-c-s1" in out
    # the discover stage of both topologies ran (the single-node site failing as a whole
    # does not stop the multi-node one), found the IPCs unreachable and recorded it;
    # the summary then fails the run, naming them
    assert proc.returncode == 2, out
    hosts = recap(out)
    assert sorted(hosts) == ["localhost", "plant-m-c-m0", "plant-m-c-m1", "plant-m-c-m2", "plant-s-c-s1"]
    assert all(hosts[h]["failed"] == 0 for h in hosts if h != "localhost")
    assert "4 IPC(s) failed a stage of this run" in out
    assert "port 1: Connection refused" in out
    with ZtpStore(url) as store:
        states = dict((d["serial"], (d["state"], d["failed_stage"], d["failure_reason"] or "")) for d in store.devices())
    for serial in ("S-1", "M-0", "M-1", "M-2"):
        state, stage, reason = states[serial]
        assert (state, stage) == ("failed", "discover") and "unreachable" in reason, states[serial]
    assert "Failures and their reasons" in out
