# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""edgefleet-orchestrator: runs site.yml for the devices that phoned home (zero touch without AWX).

::

    python edgefleet_orchestrator.py --config FILE serve           claim runs and start them, until SIGTERM
    python edgefleet_orchestrator.py --config FILE run --run-id N  one claimed run (started by serve)
    python edgefleet_orchestrator.py --config FILE status          the runs, as JSON

A thin program: the rules are the collection's module_utils (orchestrator,
orchestrator_store, orchestrator_service), imported from the collections path
on PYTHONPATH. The ZTP database URL comes from EDGEFLEET_ZTP_DB only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils import orchestrator_service as service
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ENV_VAR, ZtpDatabaseError, ZtpError


def start_run(config: dict, run: dict) -> subprocess.Popen:
    """One run process, in a session of its own: it outlives a restart of serve."""
    service.log("run %s: site %s%s, devices %s" % (run["id"], run["site"], ", cluster %s" % run["cluster"] if run["cluster"] else "",
                                                   ", ".join(run["devices"])))
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--config", config["path"], "run", "--run-id", str(run["id"])],
                            start_new_session=True, stdin=subprocess.DEVNULL)


def serve(config: dict, stop: threading.Event) -> int:
    children = []  # type: t.List[subprocess.Popen]
    service.log("serving as %s (at most %d devices at once, %d per site)"
                % (config["owner"], config["caps"].total, config["caps"].per_site))
    while not stop.is_set():
        try:
            for run in service.claim_once(config):
                children.append(start_run(config, run))
        except (ZtpError, ZtpDatabaseError) as exc:
            service.log("claim failed, trying again: %s" % exc)
        children = [child for child in children if child.poll() is None]  # reaped
        stop.wait(config["poll_seconds"])
    return 0


def main(argv: t.Optional[t.List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="edgefleet-orchestrator", description="Run site.yml for the devices that phoned home.")
    parser.add_argument("--config", required=True, help="the JSON config (no secrets; the database URL is in %s)" % ENV_VAR)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="claim runs and start them, until SIGTERM")
    one = sub.add_parser("run", help="run one claimed run (started by serve)")
    one.add_argument("--run-id", type=int, required=True)
    sub.add_parser("status", help="the runs, as JSON")
    args = parser.parse_args(argv)
    try:
        config = service.load_config(args.config)
        if args.command == "serve":
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            return serve(config, stop)
        if args.command == "run":
            return service.run_one(config, args.run_id)
        print(service.runs_json())
        return 0
    except (ZtpError, ZtpDatabaseError, OSError, ValueError) as exc:
        service.log(str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
