# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud stage play (playbooks/stages/cloud.yml) against the fake ARM, three sites, and its breaker.

The IPCs are local connections (what runs on them is writing the agents' manifest into a folder the
test owns); the Arc registration and Flux go to the fake ARM over TLS. The breaker story of the issue:
with the fake down every site finishes in bounded time as "local only", its devices stay
platform_ready and the breaker is open in the ZTP database; a second run fails fast; with the fake back
and the timeout passed, the next run goes half-open, then closed, and the devices reach
workloads_deployed. The seconds each run took are printed (pytest -s) for the README.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime, timezone

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_breakers

from .helpers import run

REPO = os.environ.get("EDGEFLEET_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "fakes", "arm"))
import server  # noqa: E402
from client import SUBSCRIPTION, FakeArmProcess  # noqa: E402

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore  # noqa: E402

STAGE = os.path.join(REPO, "playbooks", "stages", "cloud.yml")
SITES = ("plant-a", "plant-b", "plant-c")
PROXY = {"https_proxy": "http://proxy.plant-b.example:3128", "no_proxy": ["10.42.0.0/16", "10.43.0.0/16", ".svc"]}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fleet(tmp_path):
    """Three single-node sites, each IPC platform_ready, an inventory of local connections."""
    url = "sqlite:///%s" % (tmp_path / "ztp.db")
    data = {"regions": ["emea"],
            "sites": [{"name": s, "region": "emea", "topology": "single_node"} for s in SITES],  # plant-b behind a proxy (below)
            "clusters": [{"name": s + "-c1", "site": s, "platform": "k3s"} for s in SITES],
            "devices": [{"serial": "SN-%d" % i, "mac": "02:00:00:00:00:%02x" % i, "site": s, "cluster": s + "-c1",
                         "role": "control", "os_family": "linux", "ip": "127.0.0.1"} for i, s in enumerate(SITES)]
            # plant-a's cluster has a worker too: it shares its lead's outcome, one registration per cluster
            + [{"serial": "SN-9", "mac": "02:00:00:00:00:09", "site": "plant-a", "cluster": "plant-a-c1", "role": "worker",
                "os_family": "linux", "ip": "127.0.0.1"}]}
    data["sites"][1]["proxy"] = PROXY
    with ZtpStore(url) as store:
        store.import_data(data, "test")
        for state in ("discovered", "os_installed", "configured", "platform_ready"):
            store.save_devices([{"serial": d["serial"], "state": state} for d in data["devices"]], "test")
    (tmp_path / "fleet.ztp.yml").write_text(yaml.safe_dump({
        "plugin": "edgefleet.platform.ztp", "database": url,
        "compose": {"ansible_connection": "'local'", "ansible_python_interpreter": "'%s'" % sys.executable}}))
    chart = tmp_path / "azure-arc-agents.tgz"
    chart.write_bytes(b"\x1f\x8b\x08\x00 a stand-in chart archive")
    with ZtpStore(url) as store:
        for device in store.devices():
            (tmp_path / "manifests" / device["hostname"]).mkdir(parents=True)
    return url, tmp_path


def stage(fleet_, port, fake_dir, **more):
    url, tmp = fleet_
    env = dict(os.environ, AZURE_SUBSCRIPTION_ID=SUBSCRIPTION, AZURE_CLIENT_ID=server.CLIENT_ID, AZURE_SECRET=server.CLIENT_SECRET,
               AZURE_TENANT=server.TENANT, AZURE_AUTHORITY_HOST="https://127.0.0.1:%d" % port,
               EDGEFLEET_ARM_ENDPOINT="https://127.0.0.1:%d" % port, EDGEFLEET_ARM_CA_BUNDLE=os.path.join(fake_dir, "ca.pem"),
               EDGEFLEET_ZTP_DB=url, HOME=str(tmp), ANSIBLE_NOCOLOR="1")
    extra = {"edgefleet_ztp_database": url, "edgefleet_cloud_mode": "arc", "arc_connect_resource_group": "rg1", "arc_connect_location": "westeurope",
             "arc_connect_read_cluster_config": False, "arc_connect_chart_path": str(tmp / "azure-arc-agents.tgz"),
             "arc_connect_manifests_dir": "%s/manifests/{{ inventory_hostname }}" % tmp, "arc_connect_key_dir": "%s/keys" % tmp,
             "arc_connect_wait_delay": 1, "flux_wait_delay": 1, "flux_url": "https://git.example.com/edge/fleet.git",
             "arc_connect_breaker_threshold": 1, "arc_connect_breaker_timeout": 15}
    extra.update(more)
    extra = dict((k, v) for k, v in extra.items() if v is not None)
    start = time.monotonic()
    proc = run(["ansible-playbook", "-i", str(tmp / "fleet.ztp.yml"), STAGE, "-e", json.dumps(extra)], env, check=False)
    return proc, time.monotonic() - start


def states(url):
    with ZtpStore(url) as store:
        devices = store.devices()
        assert len(set((d["site"], d["state"]) for d in devices)) == len(SITES), "a cluster's nodes disagree"
        return dict((d["site"], d["state"]) for d in devices), dict(
            (b["site"], b["state"]) for b in ztp_breakers.breakers(store) if b["dependency"] == "arm")


def test_cloud_stage_reaches_workloads_deployed(fleet, tmp_path):
    fake = FakeArmProcess(str(tmp_path / "fake"))
    try:
        proc, seconds = stage(fleet, fake.port, fake.dir)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        devices, breakers = states(fleet[0])
        assert devices == dict((s, "workloads_deployed") for s in SITES)
        assert set(breakers.values()) <= {"closed"}
        manifest = next((tmp_path / "manifests").glob("plant-a-*")) / "edgefleet-azure-arc.yaml"
        assert oct(manifest.stat().st_mode & 0o777) == "0o600"
        # one YAML stream of two objects, as K3s reads it: the onboarding Secret and the HelmChart
        assert [doc["kind"] for doc in yaml.safe_load_all(manifest.read_text())] == ["Secret", "HelmChart"]
        # the agents take the proxy of their site's ZTP record (plant-b's), and none elsewhere
        for site, proxy in (("plant-a", None), ("plant-b", PROXY)):
            found = next((tmp_path / "manifests").glob(site + "-*")) / "edgefleet-azure-arc.yaml"
            chart = list(yaml.safe_load_all(found.read_text()))[1]
            values = chart["spec"]["values"]["global"]
            assert values.get("httpsProxy") == (proxy or {}).get("https_proxy")
            assert values.get("noProxy") == (",".join(proxy["no_proxy"]) if proxy else None)
        assert fake.log()["violations"] == []
        puts = [r["path"].rsplit("/", 1)[-1] for r in fake.log()["requests"] if r["method"] == "PUT" and r["path"].endswith("-c1")]
        assert sorted(puts) == ["plant-a-c1", "plant-b-c1", "plant-c-c1"]  # once per cluster, not per node
        print("\ncloud stage, 3 sites, fake ARM up: %.1f s" % seconds)
    finally:
        fake.stop()


def test_breaker_open_then_half_open_then_closed(fleet, tmp_path):
    port = free_port()
    fake_dir = str(tmp_path / "fake")
    os.makedirs(fake_dir)
    (tmp_path / "fake" / "ca.pem").write_text("")  # nothing listens: the CA file is not even valid
    # 0. the fake ARM is down, the default threshold (3): one outage counted, the breakers still closed,
    #    yet no device failed: every site is local only for the run
    proc = stage(fleet, port, fake_dir, arc_connect_breaker_threshold=3)[0]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.stdout.count("local only") >= 3
    with ZtpStore(fleet[0]) as store:
        assert set((b["state"], b["failures"]) for b in ztp_breakers.breakers(store)) == {("closed", 1)}
    assert states(fleet[0])[0] == dict((s, "platform_ready") for s in SITES)
    # 1. still down, threshold 1: every site finishes, local only, breaker open
    proc, first = stage(fleet, port, fake_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.stdout.count("local only") >= 3
    devices, breakers = states(fleet[0])
    assert devices == dict((s, "platform_ready") for s in SITES)
    assert breakers == dict((s, "open") for s in SITES)
    # 2. straight again: the open breaker fails fast, with no network call
    proc, fast = stage(fleet, port, fake_dir)
    assert proc.returncode == 0 and proc.stdout.count("local only") >= 3
    assert "fail fast" in proc.stdout
    # 3. the fake is back and the timeout has passed: half-open trial, closed, workloads_deployed
    with ZtpStore(fleet[0]) as store:
        retry = max(b["next_retry"] for b in ztp_breakers.breakers(store))
    time.sleep(max(0.0, (datetime.strptime(retry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
                         - datetime.now(timezone.utc)).total_seconds() + 1))
    fake = FakeArmProcess(fake_dir, port=port)
    try:
        proc, recovered = stage(fleet, port, fake_dir)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        devices, breakers = states(fleet[0])
        assert devices == dict((s, "workloads_deployed") for s in SITES)
        assert breakers == dict((s, "closed") for s in SITES)
        assert fake.log()["violations"] == []
    finally:
        fake.stop()
    print("\ncloud stage, 3 sites: ARM down %.1f s (breaker opens), open breaker %.1f s (fail fast), "
          "recovered %.1f s (half-open, closed)" % (first, fast, recovered))


def test_cloud_stage_off_by_default_leaves_the_fleet_alone(fleet, tmp_path):
    # a fleet without Azure: edgefleet_cloud_mode unset is `none`; nothing is called, nothing written, nothing failed
    fake = FakeArmProcess(str(tmp_path / "fake"))
    try:
        extra = {"edgefleet_cloud_mode": None}  # dropped below: the play sees it undefined
        proc = stage(fleet, fake.port, fake.dir, **extra)[0]
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "cloud stage off (edgefleet_cloud_mode: none) for 4 IPC(s)" in proc.stdout
        assert states(fleet[0])[0] == dict((s, "platform_ready") for s in SITES)
        assert fake.log()["requests"] == []
        assert not list((tmp_path / "manifests").glob("*/*"))
    finally:
        fake.stop()


def test_an_unknown_cloud_mode_fails_the_stage_with_the_reason(fleet, tmp_path):
    proc = stage(fleet, free_port(), str(tmp_path), edgefleet_cloud_mode="azure")[0]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]  # the stage play records, the summary fails
    with ZtpStore(fleet[0]) as store:
        devices = store.devices()
    assert set(d["state"] for d in devices) == {"failed"} and set(d["failed_stage"] for d in devices) == {"cloud"}
    assert all("edgefleet_cloud_mode must be one of: arc, upstream, none, got: azure" in d["failure_reason"] for d in devices), devices
