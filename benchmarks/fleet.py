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

It prints the wall times, the ratio of each size to the smallest, and the transactions, as a Markdown
table. Timings are never asserted; the exit status is non-zero only when a stage fails for an IPC or a
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
            "ipcs": [{"role": "control", "debian": 12} for _ in range(size)],
        }],
    }))


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


def run(cmd, env, cwd, log: Path) -> float:
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit("benchmark: %s failed (rc %d), see %s" % (" ".join(map(str, cmd)), proc.returncode, log))
    return elapsed


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
            with CountCommits(db) as counted:
                seconds = run(playbook + ["-i", "inventories/lab/lab.ztp.yml", "playbooks/stages/%s.yml" % stage],
                              env, tree, work / ("%s-%d.log" % (stage, size)))
            out[stage] = (seconds, counted.commits)
        expected = {"discover": "discovered", "configure": "configured"}[stages[-1]]
        wrong = dict((s, st) for s, st in states(db).items() if st != expected)
        if wrong:
            sys.exit("benchmark: after %s on %d IPCs these devices are not %s: %s" % (stages[-1], size, expected, wrong))
    finally:
        subprocess.run(playbook + ["lab/down.yml", "-e", "lab_fleet=%s" % fleet], env=env, cwd=tree,
                       capture_output=True, check=False)
    return out


def table(title: str, rows: list, stage: str) -> None:
    base = rows[0][1][stage][0]
    print("\n%s\n" % title)
    print("| IPCs | seconds | ratio to %d IPC%s | ZTP write transactions |" % (rows[0][0], "" if rows[0][0] == 1 else "s"))
    print("|---:|---:|---:|---:|")
    for size, result in rows:
        seconds, commits = result[stage]
        print("| %d | %.1f | %.2f | %d |" % (size, seconds, seconds / base, commits))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--discover", type=int, nargs="+", default=[1, 50], metavar="N", help="fleet sizes for discover")
    parser.add_argument("--configure", type=int, nargs="+", default=[1, 8], metavar="N",
                        help="fleet sizes for discover + configure")
    parser.add_argument("--forks", type=int, default=25)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edgefleet-bench-fleet-"))
    tree = tree_copy(work / "collections")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(work / "collections"), ANSIBLE_HOME=str(work / "home"),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", CONTAINERS_CONF=str(ROOT / "lab/containers.conf"),
               PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = "%s:%s" % (ROOT / ".venv/bin", env.get("PATH", ""))
    load = os.getloadavg()
    try:
        discover = [(n, measure(tree, env, work, n, ["discover"], args.forks)) for n in args.discover]
        configure = [(n, measure(tree, env, work, n, ["discover", "configure"], args.forks)) for n in args.configure]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("Stage plays at fleet scale (forks %d; load average %.1f/%.1f/%.1f at the start)" % ((args.forks,) + load))
    table("discover stage (role, sizing gate, one ztp_stage write-back)", discover, "discover")
    table("configure stage (os_hardening, K3s node profile, one write-back), after discover", configure, "configure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
