# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet-scale benchmark of the stage plays: one IPC against many, side by side in one run.

Usage (from the collection root, with the project's virtualenv and lab images, ``make images``)::

    .venv/bin/python benchmarks/fleet.py                      # discover on 1 and 50 IPCs, configure on 1 and 8
    .venv/bin/python benchmarks/fleet.py --discover 1 10 --configure 1 2 --forks 10

For each fleet size it brings up a lab of that many IPC stand-ins (Debian 12 containers running
systemd, reached over SSH, registered in a SQLite ZTP database by ``lab/up.yml``, one multi-node site
in one K3s cluster), in a private copy of the collection so that a running ``make lab`` is left alone,
then times with ``ansible-playbook -f FORKS``:

- discover: ``playbooks/stages/discover.yml`` (the role, the sizing gate, the ``ztp_stage`` write-back);
- configure (for the ``--configure`` sizes): ``playbooks/stages/configure.yml`` after discover
  (os_hardening with the K3s node profile, then its write-back).

For every timed stage it counts the **write transactions** the ZTP database committed, read from the
SQLite write-ahead log itself (every committed transaction ends with one commit frame; the log is
emptied before each stage and a read transaction held open keeps it from being reset), so the count
does not rely on the collection's own code: one per stage is the design, whatever the number of IPCs.

It prints, per size, the wall time, the CPU time of the controller (the ansible-playbook process
tree) and of the IPCs (their containers' cgroups), the ratios to the smallest size, and the
transactions, as a Markdown table. On this machine the IPCs share the controller's cores, so the wall
time also carries the IPCs' own work, which a real fleet does on its own CPUs in parallel: the
controller's CPU is the part that grows with the fleet wherever it runs. Timings are never asserted;
the exit status is non-zero only when a stage fails for an IPC or a
device does not end in the expected state.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def bench_env(work: Path) -> dict:
    """The environment of a benchmark's Ansible runs: the collection copied under work, nothing of the caller's ANSIBLE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(work / "collections"), ANSIBLE_HOME=str(work / "home"),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", CONTAINERS_CONF=str(ROOT / "lab/containers.conf"),
               PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = "%s:%s" % (ROOT / ".venv/bin", env.get("PATH", ""))
    return env


def tree_copy(dest: Path) -> Path:
    """The git-visible files of the collection under dest/ansible_collections/edgefleet/platform."""
    tree = dest / "ansible_collections" / "edgefleet" / "platform"
    tree.mkdir(parents=True)
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            (tree / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tree / name.decode())
    return tree


def fleet_file(path: Path, size: int, tag: str) -> None:
    """One multi-node site (a single-node one for one IPC) with `size` Debian 12 IPCs in one cluster."""
    path.write_text(yaml.safe_dump({
        "lab_region": "bench",
        "lab_sites": [{
            "name": "bench-%s%d" % (tag, size),
            "topology": "single_node" if size == 1 else "multi_node",
            "cluster": {"name": "bench-%s%d" % (tag, size), "platform": "k3s",
                        "workloads": [{"name": "gateway", "type": "medium"}]},
            "ipcs": [{"role": "control", "debian": 12}] * size,
        }],
    }))


INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")
# systemd as PID 1 takes about 6 inotify instances per container, all counted to the host's root
INOTIFY_PER_IPC = 8


def inotify_limit(ipcs: int, raise_it: bool) -> int | None:
    """Check (or, with raise_it, raise for the run) the host's inotify instance limit; the old value
    to restore, when it was raised. Debian's default (128) starts about 20 systemd containers."""
    current = int(INOTIFY.read_text())
    need = INOTIFY_PER_IPC * ipcs + 64
    if current >= need:
        return None
    if not raise_it:
        sys.exit("benchmark: %d IPCs need fs.inotify.max_user_instances >= %d on this host (it is %d): "
                 "systemd in the containers fails to start sshd beyond ~%d. Rerun with --raise-inotify to raise "
                 "it for the run (restored at the end), or raise it yourself." % (ipcs, need, current, (current - 20) // 5))
    INOTIFY.write_text(str(need))
    return current


def wal_commits(db: Path) -> int:
    """Committed transactions in the SQLite WAL since its last restart (commit frames with the log's salt)."""
    wal = Path(str(db) + "-wal")
    if not wal.exists():
        return 0
    data = wal.read_bytes()
    if len(data) < 32:
        return 0
    page_size = struct.unpack(">I", data[8:12])[0]
    salt = data[16:24]
    commits, offset = 0, 32
    while offset + 24 + page_size <= len(data):
        header = data[offset:offset + 24]
        if header[8:16] != salt:
            break  # frames of an earlier generation of the log
        if struct.unpack(">I", header[4:8])[0] != 0:
            commits += 1
        offset += 24 + page_size
    return commits


class CountCommits:
    """Count the transactions committed while the block runs, from the WAL.

    The WAL is emptied first; a read transaction is then held open, so that no
    checkpoint can reset the log and the last writer's close cannot delete it:
    every commit frame of the block stays in the log until it is counted.
    """

    def __init__(self, db: Path) -> None:
        self.db = db
        self.commits = 0

    def __enter__(self) -> "CountCommits":
        self.conn = sqlite3.connect(str(self.db), isolation_level=None)
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT count(*) FROM devices").fetchone()
        return self

    def __exit__(self, *exc) -> None:
        self.commits = wal_commits(self.db)
        self.conn.execute("ROLLBACK")
        self.conn.close()


def run(cmd, env, cwd, log: Path) -> tuple:
    """Run a command; its wall time and the CPU seconds of its process tree (os.wait4)."""
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        status, usage = os.wait4(proc.pid, 0)[1:]
    elapsed = time.monotonic() - start
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.exit("benchmark: %s failed (rc %d), see %s" % (" ".join(map(str, cmd)), rc, log))
    return elapsed, usage.ru_utime + usage.ru_stime


def ipc_cpu(lab_state: Path, env: dict) -> float:
    """CPU seconds the lab's containers have used (cgroup v1 cpuacct or v2 cpu.stat)."""
    ids = subprocess.run(["podman", "ps", "-q", "--no-trunc", "--filter", "label=edgefleet_lab=%s" % lab_state],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    total = 0.0
    for cid in ids:
        path = subprocess.run(["podman", "inspect", "--format", "{{.State.CgroupPath}}", cid], env=env,
                              capture_output=True, text=True, check=True).stdout.strip()
        v1 = Path("/sys/fs/cgroup/cpuacct") / path.lstrip("/") / "cpuacct.usage"
        v2 = Path("/sys/fs/cgroup") / path.lstrip("/") / "cpu.stat"
        if v1.exists():
            total += int(v1.read_text()) / 1e9
        elif v2.exists():
            total += int(v2.read_text().split("usage_usec ")[1].split()[0]) / 1e6
    return total


def states(db: Path) -> dict:
    conn = sqlite3.connect(str(db))
    try:
        return dict(conn.execute("SELECT serial, state FROM devices").fetchall())
    finally:
        conn.close()


def measure(tree: Path, env: dict, work: Path, size: int, stages: list, forks: int) -> dict:
    fleet = work / ("fleet-%d-%s.yml" % (size, "-".join(stages)))
    fleet_file(fleet, size, stages[-1][0])
    db = tree / ".lab" / "ztp.db"
    playbook = [str(ROOT / ".venv/bin/ansible-playbook"), "-f", str(forks)]
    out = {}
    try:
        run(playbook + ["lab/up.yml", "-e", "lab_fleet=%s" % fleet], env, tree, work / ("up-%d.log" % size))
        for stage in stages:
            before = ipc_cpu(tree / ".lab", env)
            with CountCommits(db) as counted:
                seconds, cpu = run(playbook + ["-i", "inventories/lab/lab.ztp.yml", "playbooks/stages/%s.yml" % stage],
                                   env, tree, work / ("%s-%d.log" % (stage, size)))
            out[stage] = (seconds, counted.commits, cpu, ipc_cpu(tree / ".lab", env) - before)
        expected = {"discover": "discovered", "configure": "configured"}[stages[-1]]
        wrong = dict((s, st) for s, st in states(db).items() if st != expected)
        if wrong:
            sys.exit("benchmark: after %s on %d IPCs these devices are not %s: %s" % (stages[-1], size, expected, wrong))
    finally:
        subprocess.run(playbook + ["lab/down.yml", "-e", "lab_fleet=%s" % fleet], env=env, cwd=tree,
                       capture_output=True, check=False)
    return out


def table(title: str, rows: list, stage: str) -> None:
    base_wall, base_cpu = rows[0][1][stage][0], rows[0][1][stage][2]
    print("\n%s\n" % title)
    print("| IPCs | wall s | ratio | controller CPU s | ratio | CPU s in the IPCs | ZTP write transactions |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, result in rows:
        wall, commits, cpu, ipcs = result[stage]
        print("| %d | %.1f | %.2f | %.1f | %.2f | %.1f | %d |" % (size, wall, wall / base_wall, cpu, cpu / base_cpu, ipcs, commits))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--discover", type=int, nargs="+", default=[1, 50], metavar="N", help="fleet sizes for discover")
    parser.add_argument("--configure", type=int, nargs="*", default=[1, 8], metavar="N",
                        help="fleet sizes for discover + configure")
    parser.add_argument("--forks", type=int, default=25)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--profile", action="store_true", help="time every task (ansible.posix.profile_tasks, in the logs)")
    parser.add_argument("--raise-inotify", action="store_true",
                        help="raise the host's fs.inotify.max_user_instances for the run when the fleet needs it")
    args = parser.parse_args()
    restore = inotify_limit(max(args.discover + args.configure), args.raise_inotify)

    work = Path(tempfile.mkdtemp(prefix="edgefleet-bench-fleet-"))
    tree = tree_copy(work / "collections")
    env = bench_env(work)
    if args.profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    load = os.getloadavg()
    try:
        discover = [(n, measure(tree, env, work, n, ["discover"], args.forks)) for n in args.discover]
        configure = [(n, measure(tree, env, work, n, ["discover", "configure"], args.forks)) for n in args.configure]
    finally:
        if restore is not None:
            INOTIFY.write_text(str(restore))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("Stage plays at fleet scale (forks %d; load average %.1f/%.1f/%.1f at the start)" % ((args.forks,) + load))
    table("discover stage (role, sizing gate, one ztp_stage write-back)", discover, "discover")
    if configure:
        table("configure stage (os_hardening, K3s node profile, one write-back), after discover", configure, "configure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
