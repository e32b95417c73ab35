# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cloud breaker saves while ARM is down: the cloud stage play with and without it, side by side.

A fleet of --sites single-node sites, every IPC platform_ready, local connections; ARM is down, in two
ways: its port closed (refused at once), or hanging (a listener that accepts and never answers, so every
request waits for --request-timeout). For each, three runs of playbooks/stages/cloud.yml, each timed:

  baseline   the breaker never opens (threshold 1000): every run calls ARM and waits for its retries
  opening    threshold 1: the run that finds ARM down and opens every site's breaker
  open       the next run: every cloud call fails fast, no network

and prints seconds and the ratio open / baseline (the lower the better). Nothing is asserted; run it
on a quiet machine:  .venv/bin/python benchmarks/cloud_breaker.py [--sites 5]
Needs `make tree` (the collection under .build) and ../shared/specs (for nothing here: ARM is down).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing as t

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, ".build")
sys.path.insert(0, BUILD)

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_breakers  # noqa: E402
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore  # noqa: E402


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hanging_port() -> t.Tuple[int, socket.socket]:
    """A listener that accepts connections and never answers (ARM hanging)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    held = []

    def accept() -> None:
        while True:
            try:
                held.append(sock.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    return sock.getsockname()[1], sock


def fleet(tmp: str, sites: int) -> str:
    url = "sqlite:///%s/ztp.db" % tmp
    names = ["site-%02d" % i for i in range(sites)]
    data = {"regions": ["emea"], "sites": [{"name": s, "region": "emea", "topology": "single_node"} for s in names],
            "clusters": [{"name": s + "-c1", "site": s, "platform": "k3s"} for s in names],
            "devices": [{"serial": "SN-%d" % i, "mac": "02:00:00:00:01:%02x" % i, "site": s, "cluster": s + "-c1", "role": "control",
                         "os_family": "linux", "ip": "127.0.0.1"} for i, s in enumerate(names)]}
    with ZtpStore(url) as store:
        store.import_data(data, "benchmark")
        for state in ("discovered", "os_installed", "configured", "platform_ready"):
            store.save_devices([{"serial": d["serial"], "state": state} for d in data["devices"]], "benchmark")
    with open(os.path.join(tmp, "fleet.ztp.yml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump({"plugin": "edgefleet.platform.ztp", "database": url,
                        "compose": {"ansible_connection": "'local'", "ansible_python_interpreter": "'%s'" % sys.executable}}, fh)
    return url


def stage(tmp: str, url: str, port: int, threshold: int, timeout: int) -> float:
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_COLLECTIONS_PATH=BUILD, AZURE_SUBSCRIPTION_ID="00000000-0000-0000-0000-000000000001",
               AZURE_CLIENT_ID="bench", AZURE_SECRET="bench", AZURE_TENANT="bench", HOME=tmp,
               AZURE_AUTHORITY_HOST="https://127.0.0.1:%d" % port, EDGEFLEET_ARM_ENDPOINT="https://127.0.0.1:%d" % port)
    extra = {"edgefleet_ztp_database": url, "arc_connect_resource_group": "rg1", "arc_connect_location": "westeurope",
             "arc_connect_read_cluster_config": False, "arc_connect_chart_path": os.path.join(tmp, "chart.tgz"),
             "arc_connect_key_dir": os.path.join(tmp, "keys"), "flux_url": "https://git.example.com/fleet.git",
             "arc_connect_breaker_threshold": threshold, "arc_connect_breaker_timeout": 3600,
             "arc_connect_request_timeout": timeout}
    start = time.monotonic()
    play = os.path.join(ROOT, "playbooks", "stages", "cloud.yml")
    proc = subprocess.run(["ansible-playbook", "-i", os.path.join(tmp, "fleet.ztp.yml"), play, "-e", json.dumps(extra)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("the cloud stage failed:\n" + proc.stdout[-3000:])
    return seconds


def scenario(name: str, port: int, sites: int, timeout: int) -> t.List[t.Tuple[str, float]]:
    with tempfile.TemporaryDirectory(prefix="edgefleet-bench-") as tmp:
        url = fleet(tmp, sites)
        baseline = stage(tmp, url, port, 1000, timeout)
        opening = stage(tmp, url, port, 1, timeout)
        with ZtpStore(url) as store:
            states = set(b["state"] for b in ztp_breakers.breakers(store) if b["dependency"] == "arm")
        if states != {"open"}:
            sys.exit("%s: the breakers did not open: %s" % (name, sorted(states)))
        fast = stage(tmp, url, port, 1, timeout)
    return [("%s, baseline: breaker never opens" % name, baseline), ("%s, the run that opens the breakers" % name, opening),
            ("%s, breakers open: fail fast" % name, fast)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--request-timeout", type=int, default=10, help="arc_connect_request_timeout (the role's default is 30)")
    args = parser.parse_args()
    rows = scenario("port closed", closed_port(), args.sites, args.request_timeout)
    port, listener = hanging_port()
    try:
        rows += scenario("ARM hanging", port, args.sites, args.request_timeout)
    finally:
        listener.close()
    print("| run (%d sites, ARM down, request timeout %d s) | seconds | / its baseline |" % (args.sites, args.request_timeout))
    print("|---|---|---|")
    for index, (name, seconds) in enumerate(rows):
        print("| %s | %.1f | %.2f |" % (name, seconds, seconds / rows[index - index % 3][1]))


if __name__ == "__main__":
    main()
