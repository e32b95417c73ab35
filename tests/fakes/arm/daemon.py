# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop the fake ARM in the background, for the lab (lab/up.yml, lab/down.yml).

The lab's stand-in for Azure, never used outside the lab and the tests:

  python daemon.py start --dir DIR   the fake on a free loopback port, detached (its own session), unless one
                                     already serves DIR; DIR/env (0600) holds what points the collection's
                                     Azure modules at it: endpoint, CA and a fresh random client secret
  python daemon.py stop --dir DIR    stops the one that serves DIR (its pid in DIR/pid, checked against its
                                     command line so that a recycled pid is never signalled)

Prints "started", "running", "stopped" or "not running" (what lab/up.yml and down.yml report as changed).
The credentials go through the file, never a command line.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")


def running(directory: str) -> int | None:
    """The pid of the fake serving directory, if it runs."""
    try:
        with open(os.path.join(directory, "pid"), encoding="utf-8") as fh:
            pid = int(fh.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            argv = fh.read().decode("utf-8", "replace").split("\0")
    except (OSError, ValueError):
        return None
    return pid if SERVER in argv and os.path.abspath(directory) in argv else None


def start(directory: str, settle: int) -> str:
    directory = os.path.abspath(directory)
    if running(directory) and os.path.exists(os.path.join(directory, "env")):
        return "running"
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    for name in ("port", "env", "pid"):
        if os.path.exists(os.path.join(directory, name)):
            os.unlink(os.path.join(directory, name))
    with open(os.path.join(directory, "server.err"), "ab") as err:
        proc = subprocess.Popen([sys.executable, SERVER, "--dir", directory, "--settle", str(settle),
                                 "--env-file", os.path.join(directory, "env")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)  # outlives this script and the Ansible task that ran it
    with open(os.path.join(directory, "pid"), "w", encoding="utf-8") as fh:
        fh.write("%d\n" % proc.pid)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(directory, "env")):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            with open(os.path.join(directory, "server.err"), encoding="utf-8", errors="replace") as fh:
                raise SystemExit("the fake ARM did not start (exit %s): %s" % (proc.poll(), fh.read()[-2000:]))
        time.sleep(0.05)
    return "started"


def stop(directory: str) -> str:
    pid = running(directory)
    if pid is None:
        return "not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while running(directory) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(directory):
        os.kill(pid, signal.SIGKILL)
    os.unlink(os.path.join(directory, "pid"))
    return "stopped"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--settle", type=int, default=1, help="reads before Connected / Compliant")
    args = parser.parse_args()
    print(start(args.dir, args.settle) if args.action == "start" else stop(args.dir))


if __name__ == "__main__":
    main()
