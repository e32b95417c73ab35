# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the os_hardening role on one lab container.

Usage (from the collection root, with the project's virtualenv and lab images, ``make images``)::

    .venv/bin/python benchmarks/os_hardening.py               # Debian 12, Kubernetes node profile, 3 repeats
    .venv/bin/python benchmarks/os_hardening.py --debian 13 --plain --repeat 1

Each repeat starts a fresh container from ``localhost/edgefleet/debian:<N>`` (systemd as PID 1,
NET_ADMIN and a writable /proc/sys, as the Molecule scenario), then times, with ``ansible-playbook``
over the podman connection:

- baseline: a play that only gathers facts (what any play on this host costs);
- converge: the role in enforce mode on the fresh host (package installs from the Debian mirror included);
- re-run: the role again, which must report ``changed=0`` (idempotence is checked, not assumed).

It prints the medians, the ratios converge/baseline and re-run/baseline, and the controls the audit
reported (pass, fail, waived, n/a) from the role's JSON report. Timings are reported, never asserted;
the exit status is non-zero only when a run fails or the re-run changes something.
The collection is found through a private symlink to this work tree; the container is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

BASELINE = """\
- name: Baseline | facts only
  hosts: all
  gather_facts: true
  tasks: []
"""
CONVERGE = """\
- name: Benchmark | os_hardening
  hosts: all
  gather_facts: false
  roles:
    - role: edgefleet.platform.os_hardening
"""


def run(cmd, env, log):
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit("benchmark: %s failed (rc %d), see %s" % (" ".join(map(str, cmd)), proc.returncode, log))
    return elapsed, proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--debian", choices=["12", "13"], default="12")
    parser.add_argument("--plain", action="store_true", help="not a Kubernetes node (default: the K3s node profile)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edgefleet-bench-hardening-"))
    (work / "ansible_collections/edgefleet").mkdir(parents=True)
    (work / "ansible_collections/edgefleet/platform").symlink_to(ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(work), ANSIBLE_HOME=str(work / "home"), ANSIBLE_FORCE_COLOR="0",
               CONTAINERS_CONF=str(ROOT / "lab/containers.conf"), PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = "%s:%s" % (ROOT / ".venv/bin", env.get("PATH", ""))
    (work / "baseline.yml").write_text(BASELINE)
    (work / "converge.yml").write_text(CONVERGE)
    name = "edgefleet-bench-hardening-%d" % os.getpid()
    groups = "" if args.plain else "\n[platform_k3s]\n%s\n" % name
    (work / "hosts.ini").write_text(
        "%s ansible_connection=containers.podman.podman ansible_python_interpreter=/usr/bin/python3 "
        "os_hardening_report_dir=%s\n%s" % (name, work / "reports", groups))
    playbook = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(work / "hosts.ini")]
    times = {"baseline": [], "converge": [], "re-run": []}
    report = None
    try:
        for i in range(args.repeat):
            subprocess.run(["podman", "rm", "-f", name], env=env, capture_output=True, check=False)
            subprocess.run(["podman", "run", "-d", "--name", name, "--systemd=always", "--cap-add", "NET_ADMIN",
                            "--security-opt", "unmask=/proc/sys", "localhost/edgefleet/debian:%s" % args.debian,
                            "/sbin/init"], env=env, capture_output=True, check=True)
            time.sleep(2)  # systemd up
            times["baseline"].append(run(playbook + [str(work / "baseline.yml")], env, work / ("baseline-%d.log" % i))[0])
            times["converge"].append(run(playbook + [str(work / "converge.yml")], env, work / ("converge-%d.log" % i))[0])
            elapsed, out = run(playbook + [str(work / "converge.yml")], env, work / ("rerun-%d.log" % i))
            times["re-run"].append(elapsed)
            changed = [int(m.group(3)) for m in RECAP.finditer(out)]
            if changed != [0]:
                sys.exit("benchmark: the re-run changed something (recap %s), see %s" % (changed, work))
            report = json.loads((work / "reports" / ("%s.json" % name)).read_text())
    finally:
        subprocess.run(["podman", "rm", "-f", name], env=env, capture_output=True, check=False)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    summary = report["summary"]
    print("os_hardening on Debian %s (%s), median of %d\n" % (args.debian, "plain host" if args.plain else "K3s node profile", args.repeat))
    print("| run | seconds | ratio to baseline |")
    print("|---|---:|---:|")
    for key in ("baseline", "converge", "re-run"):
        print("| %s | %.1f | %.2f |" % (key, med[key], med[key] / med["baseline"]))
    print("\ncontrols audited: %d (pass %d, fail %d, waived %d, n/a %d)" % (
        sum(summary.values()), summary["pass"], summary["fail"], summary["waived"], summary["not_applicable"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
