# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long the K3s API is gone through the API VIP when the VIP holder fails.

Usage (from the collection root, with the project's virtualenv and lab images, ``make images``)::

    .venv/bin/python benchmarks/vip_failover.py                 # 3 API deaths, 1 power loss
    .venv/bin/python benchmarks/vip_failover.py --repeat 5 --keep

Brings up, in a private copy of the collection (a running ``make lab`` is left alone), a lab site of
three control IPCs (Debian 12 containers running systemd, reached over SSH) with the API VIP, runs
``playbooks/site.yml`` to ``platform_ready``, and then, while a thread on the controller asks
``GET /readyz`` through the VIP every 0.1 s (TLS verified against the cluster CA, with the kubeconfig's
credentials, 0.5 s per request, as a client of the fetched kubeconfig would), measures:

- **API death**: ``systemctl stop k3s`` on the VIP holder (keepalived keeps running there, so the VIP
  moves only because the holder's health check fails): seconds from the stop to the first ``ok``
  through the VIP. Then K3s is started again on that node; the VIP returns to it (VRRP preemption by
  priority) and the longest gap between two answers during that return is the **failback** figure.
- **power loss**: ``podman kill`` of the holder's container (every process gone at once, no VRRP
  goodbye): seconds from the kill to the first ``ok`` through the VIP. Measured last, once per run
  (the container's address may change when it comes back), unless ``--repeat-power-loss``.

It prints the keepalived settings in force and the figures (each run, then min / median / max) as
Markdown. Timings are never asserted: the exit status is non-zero only when the lab or a play fails,
or the API does not come back through the VIP within ``--give-up`` seconds.
With the K3s test double (the lab's k3s), the API's own recovery is instant; real K3s adds the etcd
leader election when the holder was also the etcd leader (see README.md, Performance).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import bench_env, run, tree_copy  # noqa: E402  (the benchmarks share the lab helpers)

CLUSTER = "vipbench-line1"


def fleet_file(path: Path) -> None:
    path.write_text(yaml.safe_dump({
        "lab_region": "vipbench",
        "lab_sites": [{
            "name": "vipbench-multi",
            "topology": "multi_node",
            "cluster": {"name": CLUSTER, "platform": "k3s", "workloads": [{"name": "gateway", "type": "medium"}]},
            "ipcs": [{"role": "control", "debian": 12}] * 3,
        }],
    }))


class Probe(threading.Thread):
    """Asks /readyz through the VIP every `every` seconds; keeps (time, ok) of every answer."""

    def __init__(self, kubeconfig: Path, work: Path, every: float = 0.1, timeout: float = 0.5) -> None:
        super().__init__(daemon=True)
        config = yaml.safe_load(kubeconfig.read_text())
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        server = cluster["server"].split("://", 1)[1]
        self.host, port = server.rsplit(":", 1)
        self.host = self.host.strip("[]")
        self.port = int(port)
        self.ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        self.headers = {}
        if "token" in user:
            self.headers["Authorization"] = "Bearer " + user["token"]
        else:  # real K3s: a client certificate
            cert, key = work / "client.crt", work / "client.key"
            for path, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
                path.write_bytes(base64.b64decode(user[field]))
                path.chmod(0o600)
            self.ctx.load_cert_chain(str(cert), str(key))
        self.every, self.timeout = every, timeout
        self.samples: list = []
        self.stop = threading.Event()

    def ask(self) -> bool:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=self.timeout)
        try:
            conn.request("GET", "/readyz", headers=self.headers)
            answer = conn.getresponse()
            return answer.status == 200 and answer.read().strip() == b"ok"
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            ok = self.ask()
            self.samples.append((time.monotonic(), ok))
            self.stop.wait(max(0.0, self.every - (time.monotonic() - started)))

    def first_ok_after(self, since: float, give_up: float) -> float:
        """Seconds from `since` to the first ok answered after a failed one (or after `since`)."""
        deadline = since + give_up
        while time.monotonic() < deadline:
            after = [(t, ok) for t, ok in list(self.samples) if t >= since]
            failed = False
            for stamp, ok in after:
                failed = failed or not ok
                if ok and failed:
                    return stamp - since
            time.sleep(0.05)
        raise SystemExit("benchmark: the API did not answer through the VIP within %.0f s" % give_up)

    def longest_gap(self, since: float, until: float) -> float:
        """The longest time between two ok answers from `since` to `until` (the probe's own spacing,
        about 0.1 s, when nothing failed)."""
        last_ok, gap = since, 0.0
        for stamp, ok in list(self.samples):
            if since <= stamp <= until and ok:
                gap, last_ok = max(gap, stamp - last_ok), stamp
        return gap


class Lab:
    def __init__(self, tree: Path, env: dict) -> None:
        self.tree, self.env = tree, env
        self.state = tree / ".lab"

    def podman(self, *args: str, check: bool = True) -> str:
        return subprocess.run(["podman"] + list(args), env=self.env, capture_output=True, text=True,
                              check=check).stdout

    def containers(self) -> list:
        return sorted(self.podman("ps", "--filter", "label=edgefleet_lab=%s" % self.state, "--format",
                                  "{{.Names}}").split())

    def holder(self, vip: str, give_up: float = 60.0) -> str:
        """The one running container holding the VIP, once exactly one does."""
        deadline = time.monotonic() + give_up
        while time.monotonic() < deadline:
            holders = [c for c in self.containers()
                       if " %s/" % vip in self.podman("exec", c, "ip", "-4", "-o", "addr", "show", check=False)]
            if len(holders) == 1:
                return holders[0]
            time.sleep(0.5)
        raise SystemExit("benchmark: %s is not held by exactly one node after %.0f s" % (vip, give_up))

    def etcd_ok(self, name: str, give_up: float = 120.0) -> None:
        deadline = time.monotonic() + give_up
        while time.monotonic() < deadline:
            done = subprocess.run(["podman", "exec", name, "/usr/local/bin/k3s", "kubectl", "get", "--raw=/readyz/etcd"],
                                  env=self.env, capture_output=True, text=True, check=False)
            if done.returncode == 0 and done.stdout.strip() == "ok":
                return
            time.sleep(1)
        raise SystemExit("benchmark: K3s on %s did not come back within %.0f s" % (name, give_up))


def summary(name: str, values: list) -> str:
    if not values:
        return "| %s | - | - | - | 0 |" % name
    return "| %s | %.1f | %.1f | %.1f | %d |" % (name, min(values), statistics.median(values), max(values), len(values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--repeat", type=int, default=3, help="API deaths to measure (each followed by a failback)")
    parser.add_argument("--repeat-power-loss", type=int, default=1,
                        help="power losses to measure; after each but the last the container is started again")
    parser.add_argument("--give-up", type=float, default=180.0, help="seconds to wait for the API through the VIP")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds of steady answers before each fault")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edgefleet-bench-vip-"))
    tree = tree_copy(work / "collections")
    env = bench_env(work)
    fleet = work / "fleet.yml"
    fleet_file(fleet)
    playbook = [str(ROOT / ".venv/bin/ansible-playbook")]
    lab = Lab(tree, env)
    defaults = yaml.safe_load((tree / "roles/api_vip/defaults/main.yml").read_text())
    load = os.getloadavg()
    deaths, failbacks, losses, notes = [], [], [], []
    try:
        up = run(playbook + ["lab/up.yml", "-e", "lab_fleet=%s" % fleet], env, tree, work / "up.log")[0]
        site = run(playbook + ["-i", "inventories/lab/lab.ztp.yml", "playbooks/site.yml"], env, tree, work / "site.log")[0]
        probe = Probe(lab.state / "kubeconfig" / ("%s.yaml" % CLUSTER), work)
        vip = probe.host
        probe.start()
        for _death in range(args.repeat):
            time.sleep(args.settle)
            holder = lab.holder(vip)
            fault = time.monotonic()
            lab.podman("exec", holder, "systemctl", "stop", "k3s")
            deaths.append(probe.first_ok_after(fault, args.give_up))
            back = time.monotonic()
            lab.podman("exec", holder, "systemctl", "start", "k3s")
            lab.etcd_ok(holder)
            time.sleep(args.settle)  # preemption: the VIP returns once the holder's check rises
            if lab.holder(vip) != holder:
                notes.append("after API death %d the VIP did not return to %s" % (len(deaths), holder))
            failbacks.append(probe.longest_gap(back, time.monotonic()))
        for number in range(args.repeat_power_loss):
            time.sleep(args.settle)
            holder = lab.holder(vip)
            address = lab.podman("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", holder)
            fault = time.monotonic()
            lab.podman("kill", holder)
            losses.append(probe.first_ok_after(fault, args.give_up))
            if number + 1 < args.repeat_power_loss:
                lab.podman("start", holder)
                again = lab.podman("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", holder)
                if again != address:
                    notes.append("%s came back on another address (%s, was %s): power loss measured %d time(s)"
                                 % (holder, again.strip(), address.strip(), len(losses)))
                    break
                lab.etcd_ok(holder, args.give_up)
        probe.stop.set()
    finally:
        subprocess.run(playbook + ["lab/down.yml", "-e", "lab_fleet=%s" % fleet], env=env, cwd=tree,
                       capture_output=True, check=False)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    settings = (defaults["api_vip_check_interval"], defaults["api_vip_check_fall"], defaults["api_vip_check_rise"])
    print("API VIP failover: 3 control IPCs (lab containers), keepalived advert_int 1 s, check every %s s, "
          "fall %s, rise %s; /readyz through the VIP every 0.1 s; " % settings
          + "load average %.1f/%.1f/%.1f at the start; lab up %.0f s, site.yml %.0f s" % (load + (up, site)))
    print("\nseconds until the API answers through the VIP again\n")
    print("| fault | each | ")
    print("|---|---|")
    print("| API death (`systemctl stop k3s` on the holder) | %s |" % ", ".join("%.1f" % v for v in deaths))
    print("| failback (longest gap between two answers while the VIP returns) | %s |" % ", ".join("%.1f" % v for v in failbacks))
    print("| power loss (`podman kill` of the holder) | %s |" % ", ".join("%.1f" % v for v in losses))
    print("\n| fault | min | median | max | runs |")
    print("|---|---:|---:|---:|---:|")
    print(summary("API death", deaths))
    print(summary("failback", failbacks))
    print(summary("power loss", losses))
    for note in notes:
        print("\nnote: " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
