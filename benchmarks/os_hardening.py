# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the os_hardening role on fresh lab containers, optionally beside the role at another git ref.

Usage (from the collection root, with the project's virtualenv and lab images, ``make images``)::

    .venv/bin/python benchmarks/os_hardening.py                          # Debian 12, K3s node profile, 3 repeats
    .venv/bin/python benchmarks/os_hardening.py --against 3d1b644 --repeat 1
    .venv/bin/python benchmarks/os_hardening.py --debian 13 --plain --profile --keep

Each repeat starts, per collection under test, a fresh container from ``localhost/edgefleet/debian:<N>``
(systemd as PID 1, NET_ADMIN and a writable /proc/sys, as the Molecule scenario), then times, with
``ansible-playbook`` over the podman connection:

- baseline: a play that only gathers facts (what any play on this host costs);
- converge: the role in enforce mode on the fresh host (package installs from the Debian mirror included);
- re-run: the role again, which must report ``changed=0`` (idempotence is checked, not assumed).

``--against REF`` exports the collection at that git ref (``git archive``) into the temporary folder
and benchmarks it in the same run, on its own fresh containers, beside the working tree; the
repeats alternate which of the two goes first. The table then shows both and the ratios
working tree / REF. ``--profile`` enables the ``ansible.posix.profile_tasks`` callback and prints the
slowest tasks of each converge and re-run.

It prints the medians, the ratios, the load average before and after, and the controls the audit
reported (pass, fail, waived, n/a) from the role's JSON report. Timings are reported, never asserted;
the exit status is non-zero only when a run fails or a re-run changes something. The working tree is
found through a private symlink; the containers are removed at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# profile_tasks' summary lines: "role : task name ---- 12.34s" (two dashes after a long name)
PROFILE_LINE = re.compile(r"^(.*?)\s-{2,}\s+(\d+\.\d+)s$", re.M)
RUNS = ("baseline", "converge", "re-run")

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


class Variant:
    """One collection under test: its own collections path, Ansible home and container."""

    def __init__(self, label: str, work: Path, slug: str):
        self.label = label
        self.dir = work / slug
        self.container = "edgefleet-bench-hardening-%s-%d" % (slug, os.getpid())
        self.times: t.Dict[str, t.List[float]] = {k: [] for k in RUNS}
        self.report: t.Optional[t.Dict[str, t.Any]] = None
        self.profiles: t.Dict[str, str] = {}

    @property
    def collection(self) -> Path:
        return self.dir / "ansible_collections/edgefleet/platform"


def export_ref(ref: str, dest: Path) -> str:
    """Extract the collection at a git ref into dest; return the full commit id."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", ref + "^{commit}"],
                            capture_output=True, text=True, check=False)
    if commit.returncode != 0:
        sys.exit("benchmark: unknown git ref %r: %s" % (ref, commit.stderr.strip()))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit.stdout.strip()],
                             capture_output=True, check=True)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.12+ (and backports): refuse odd members
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)
    return commit.stdout.strip()


def run(cmd: t.List[str], env: t.Dict[str, str], log: Path) -> t.Tuple[float, str]:
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit("benchmark: %s failed (rc %d), see %s" % (" ".join(map(str, cmd)), proc.returncode, log))
    return elapsed, proc.stdout


def fresh_container(name: str, debian: str, env: t.Dict[str, str]) -> None:
    subprocess.run(["podman", "rm", "-f", name], env=env, capture_output=True, check=False)
    subprocess.run(["podman", "run", "-d", "--name", name, "--systemd=always", "--cap-add", "NET_ADMIN",
                    "--security-opt", "unmask=/proc/sys", "localhost/edgefleet/debian:%s" % debian,
                    "/sbin/init"], env=env, capture_output=True, check=True)
    # systemd up: is-system-running answers (running or degraded) once boot is over
    for _attempt in range(50):
        state = subprocess.run(["podman", "exec", name, "systemctl", "is-system-running"], env=env,
                               capture_output=True, text=True, check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.2)


def bench_once(v: Variant, i: int, args: argparse.Namespace, base_env: t.Dict[str, str]) -> None:
    env = dict(base_env, ANSIBLE_COLLECTIONS_PATH=str(v.dir), ANSIBLE_HOME=str(v.dir / "home"))
    if args.profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
        env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "all"
    groups = "" if args.plain else "\n[platform_k3s]\n%s\n" % v.container
    hosts = v.dir / "hosts.ini"
    hosts.write_text("%s ansible_connection=containers.podman.podman ansible_python_interpreter=/usr/bin/python3 "
                     "os_hardening_report_dir=%s\n%s" % (v.container, v.dir / "reports", groups))
    playbook = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(hosts)]
    fresh_container(v.container, args.debian, env)
    try:
        v.times["baseline"].append(run(playbook + [str(v.dir.parent / "baseline.yml")], env,
                                       v.dir / ("baseline-%d.log" % i))[0])
        for key, log in (("converge", "converge-%d.log" % i), ("re-run", "rerun-%d.log" % i)):
            elapsed, out = run(playbook + [str(v.dir.parent / "converge.yml")], env, v.dir / log)
            v.times[key].append(elapsed)
            v.profiles[key] = out
            if key == "re-run":
                changed = [int(m.group(3)) for m in RECAP.finditer(out)]
                if changed != [0]:
                    sys.exit("benchmark: %s: the re-run changed something (recap %s), see %s"
                             % (v.label, changed, v.dir / log))
        v.report = json.loads((v.dir / "reports" / ("%s.json" % v.container)).read_text())
    finally:
        subprocess.run(["podman", "rm", "-f", v.container], env=env, capture_output=True, check=False)


def slowest(out: str, count: int) -> t.List[t.Tuple[float, str]]:
    found = [(float(m.group(2)), m.group(1).strip()) for m in PROFILE_LINE.finditer(out)]
    return sorted(found, reverse=True)[:count]


def controls_line(report: t.Optional[t.Dict[str, t.Any]]) -> str:
    if report is None:
        return "-"
    s = report["summary"]
    return "%d (pass %d, fail %d, waived %d, n/a %d)" % (
        sum(s.values()), s["pass"], s["fail"], s["waived"], s["not_applicable"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--debian", choices=["12", "13"], default="12")
    parser.add_argument("--plain", action="store_true", help="not a Kubernetes node (default: the K3s node profile)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", metavar="REF", help="also benchmark the collection at this git ref, side by side")
    parser.add_argument("--profile", action="store_true", help="per-task times (ansible.posix.profile_tasks)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, reports)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edgefleet-bench-hardening-"))
    variants = []
    if args.against:
        old = Variant("", work, "against")
        commit = export_ref(args.against, old.collection)
        old.label = args.against if commit.startswith(args.against) else "%s (%s)" % (args.against, commit[:7])
        variants.append(old)
    tree = Variant("working tree", work, "tree")
    tree.collection.parent.mkdir(parents=True)
    tree.collection.symlink_to(ROOT)
    variants.append(tree)

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_FORCE_COLOR="0", CONTAINERS_CONF=str(ROOT / "lab/containers.conf"), PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = "%s:%s" % (ROOT / ".venv/bin", env.get("PATH", ""))
    (work / "baseline.yml").write_text(BASELINE)
    (work / "converge.yml").write_text(CONVERGE)

    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M")
    try:
        for i in range(args.repeat):
            order = variants if i % 2 == 0 else list(reversed(variants))
            for v in order:
                bench_once(v, i, args, env)
    finally:
        for v in variants:
            subprocess.run(["podman", "rm", "-f", v.container], env=env, capture_output=True, check=False)
        if args.keep:
            print("logs and reports kept in %s\n" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    med = {v.label: {k: statistics.median(v.times[k]) for k in RUNS} for v in variants}
    print("os_hardening on Debian %s (%s), median of %d, %s; load average %.2f %.2f %.2f before, %.2f %.2f %.2f after\n"
          % (args.debian, "plain host" if args.plain else "K3s node profile", args.repeat, started,
             *load_before, *load_after))
    header = "| run | " + " | ".join("%s s | x baseline" % v.label for v in variants)
    if len(variants) == 2:
        header += " | working tree / %s" % variants[0].label
    print(header + " |")
    print("|---" + "|---:" * (2 * len(variants) + (len(variants) == 2)) + "|")
    for key in RUNS:
        cells = ["%.1f | %.2f" % (med[v.label][key], med[v.label][key] / med[v.label]["baseline"]) for v in variants]
        line = "| %s | %s" % (key, " | ".join(cells))
        if len(variants) == 2:
            line += " | **%.2f**" % (med[tree.label][key] / med[variants[0].label][key])
        print(line + " |")
    print()
    for v in variants:
        print("controls audited, %s: %s" % (v.label, controls_line(v.report)))
    if args.profile:
        for v in variants:
            for key in ("converge", "re-run"):
                print("\nslowest tasks, %s, %s (last repeat):" % (v.label, key))
                for seconds, name in slowest(v.profiles.get(key, ""), 15):
                    print("  %6.2f s  %s" % (seconds, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
