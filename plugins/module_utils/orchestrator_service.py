# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orchestrator's service parts: config, claims, one run on ansible-runner, its artifacts.

The program is roles/ztp_orchestrator/files/edgefleet_orchestrator.py (what the
role's unit runs): its ``serve`` loop calls claim_once every ``poll_seconds``
(orchestrator_store: eligibility, caps and leases are orchestrator.py's
rules) and starts one ``run`` process per claimed run, in a session of its
own, which calls run_one: site.yml through ansible-runner, limited to the
run's devices (and localhost), the run's lease renewed while it runs, the run's
end recorded. Every run keeps its ansible-runner folder (``<state_dir>/runs/<id>``:
stdout, job events, rc, status). A run outlives a restart of ``serve``, which
finds it still leased and leaves it alone; a run whose process died loses its
lease and is recorded ``crashed`` by the next claim, which first stops what is
left of it on this host (fence).

The ZTP database URL comes from EDGEFLEET_ZTP_DB only (never a command line or
the config file); ansible-runner copies the environment into each run's
``command`` artifact, where it is masked as soon as the run starts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils import orchestrator as rules
from ansible_collections.edgefleet.platform.plugins.module_utils.orchestrator_store import RunStore
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import (
    ENV_VAR,
    ZtpDatabaseError,
    ZtpError,
    ZtpStore,
    scrub,
)

try:
    import ansible_runner  # type: ignore[import-untyped]
    HAS_RUNNER = True
except ImportError:  # only the run processes need it; the rules and their tests do not
    ansible_runner = None
    HAS_RUNNER = False

DEFAULTS = {
    "owner": "",  # default: <host name>/edgefleet-orchestrator
    "state_dir": "/var/lib/edgefleet-orchestrator",
    "inventory": "",
    "playbook": "edgefleet.platform.site",
    "max_total": 10,
    "max_per_site": 2,
    "lease_seconds": 120,
    "poll_seconds": 15,
    "settle_seconds": 30,
    "max_attempts": 2,
    "run_timeout": 7200,
    "forks": 0,  # 0: ansible's own default
    "extravars": {},
}
# Environment variables masked in the runs' `command` artifacts, besides any
# whose name says it holds a secret.
SECRET_ENV = (ENV_VAR,)
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")


def log(message: str) -> None:
    """One line to stderr (the journal under systemd)."""
    sys.stderr.write("edgefleet-orchestrator: %s\n" % scrub(message, os.environ.get(ENV_VAR, "")))
    sys.stderr.flush()


def load_config(path: str) -> dict:
    """The JSON config, checked: unknown keys and bad values fail naming the key."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ZtpError("orchestrator config %s" % path, None, "a JSON object is required")
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ZtpError("orchestrator config %s" % path, unknown[0], "unknown key (known: %s)" % ", ".join(sorted(DEFAULTS)))
    config = dict(DEFAULTS, **data)
    for key in ("state_dir", "inventory", "playbook"):
        if not isinstance(config[key], str) or not config[key]:
            raise ZtpError("orchestrator config %s" % path, key, "a non-empty string is required")
    for key in ("poll_seconds", "settle_seconds", "run_timeout", "forks"):
        if isinstance(config[key], bool) or not isinstance(config[key], int) or config[key] < 0:
            raise ZtpError("orchestrator config %s" % path, key, "a whole number of at least 0 is required")
    if not isinstance(config["extravars"], dict):
        raise ZtpError("orchestrator config %s" % path, "extravars", "a JSON object is required")
    config["caps"] = rules.check_settings(config["max_total"], config["max_per_site"], config["lease_seconds"],
                                          config["max_attempts"])
    config["host"] = socket.gethostname()
    config["owner"] = config["owner"] or "%s/edgefleet-orchestrator" % config["host"]
    config["path"] = os.path.abspath(path)
    return config


# claims ---------------------------------------------------------------------------

def _cmdline(pid: int) -> bytes:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def fence(host: str) -> t.Callable[[dict], None]:
    """What stops the leftovers of a run whose lease expired, when it ran on this host:
    its run process and its ansible-playbook (its own process group), so the devices
    are never worked on twice at once. A pid is only killed while it still is that program."""
    def stop(run: dict) -> None:
        if run["host"] != host:
            return
        for pid, marker in ((run.get("pid"), ("--run-id\x00%s\x00" % run["id"]).encode()), (run.get("ansible_pid"), b"ansible-playbook")):
            if pid and marker in _cmdline(int(pid)) + b"\x00":
                try:
                    os.killpg(os.getpgid(int(pid)), signal.SIGKILL)
                except OSError:
                    continue
                # the devices go to a new run only once the old one no longer runs (gone, or a zombie)
                deadline = time.monotonic() + 10
                while process_running(int(pid)) and time.monotonic() < deadline:
                    time.sleep(0.1)
                log("run %s: stopped its leftover process %s" % (run["id"], pid))
    return stop


def process_running(pid: int) -> bool:
    """Whether pid is a live process (a zombie has stopped: it only waits to be reaped)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def claim_once(config: dict) -> t.List[dict]:
    with ZtpStore() as store:
        return RunStore(store).claim(config["owner"], config["host"], config["caps"], config["lease_seconds"],
                                     config["settle_seconds"], config["max_attempts"], fence(config["host"]))


# run --------------------------------------------------------------------------------

def mask_command(artifact_dir: str) -> None:
    """Mask the secrets ansible-runner copied from the environment into the `command` artifact."""
    path = os.path.join(artifact_dir, "command")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return
    env = data.get("env") or {}
    for key in list(env):
        if key in SECRET_ENV or any(word in key.upper() for word in SECRET_WORDS):
            env[key] = "********"
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def last_failure(events: t.Iterable[dict]) -> t.Optional[str]:
    """The last failed or unreachable task of a run's events: '<host>: <task>: <msg>'."""
    found = None
    for event in events:
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not (event.get("event_data") or {}).get("ignore_errors"):
            data = event.get("event_data") or {}
            res = data.get("res") or {}
            found = "%s: %s: %s" % (data.get("host"), data.get("task"), res.get("msg") or "failed")
    return found


def run_one(config: dict, run_id: int) -> int:
    if not HAS_RUNNER:
        log("run %s: the Python package ansible-runner is missing" % run_id)
        return 2
    private = os.path.join(config["state_dir"], "runs", str(run_id))
    os.makedirs(private, mode=0o700, exist_ok=True)
    with ZtpStore() as store:
        runs = RunStore(store)
        run = runs.run(run_id)
        if run is None or not runs.renew(run_id, config["lease_seconds"], pid=os.getpid(), artifacts=private):
            log("run %s: not running (its lease expired before it started)" % run_id)
            return 1
        hosts = sorted(d["hostname"] for d in store.devices(serial=[d["serial"] for d in run["devices"]], with_facts=False))
    state = {"cancel": False, "ansible_pid": None}  # type: dict[str, t.Any]

    def on_signal(signum: int, _frame: t.Any) -> None:
        state["cancel"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def on_event(event: dict) -> bool:
        if state["ansible_pid"] is None and event.get("pid"):
            state["ansible_pid"] = int(event["pid"])
        return True

    def on_status(data: dict, runner_config: t.Any) -> None:
        if data.get("status") == "running":
            mask_command(runner_config.artifact_dir)

    # localhost is in the limit: the preflight and the summary (which fails the run
    # when a device failed a stage) are plays on the controller
    # the ansible-playbook of this Python's environment (a venv's bin) comes first
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "/usr/bin:/bin")])
    kwargs = dict(private_data_dir=private, ident="site", playbook=config["playbook"], inventory=config["inventory"],
                  limit=",".join(hosts + ["localhost"]), quiet=True, cancel_callback=lambda: state["cancel"], event_handler=on_event,
                  status_handler=on_status, extravars=config["extravars"] or None, timeout=config["run_timeout"] or None)
    if config["forks"]:
        kwargs["forks"] = config["forks"]
    thread, runner = ansible_runner.run_async(**kwargs)
    renew_every = max(1.0, config["lease_seconds"] / 4.0)
    while thread.is_alive():
        thread.join(renew_every)
        try:
            with ZtpStore() as store:
                if not RunStore(store).renew(run_id, config["lease_seconds"], ansible_pid=state["ansible_pid"]):
                    log("run %s: lost its lease, canceling" % run_id)
                    state["cancel"] = True
        except ZtpDatabaseError as exc:  # the lease is renewed at the next turn, or expires
            log("run %s: renewing the lease failed: %s" % (run_id, exc))
    mask_command(os.path.join(private, "artifacts", "site"))
    status = runner.status if runner.status in rules.RUN_STATUSES else "failed"
    reason = "" if status == "successful" else rules.runner_reason(status, runner.rc, config["run_timeout"], last_failure(runner.events))
    with ZtpStore() as store:
        done = RunStore(store).finish(run_id, status, runner.rc, reason, config["max_attempts"])
    if done is None:
        log("run %s: %s, but its lease had expired: recorded as crashed" % (run_id, status))
        return 1
    log("run %s: %s%s" % (run_id, status, ": " + reason if reason else ""))
    for dev in done["devices"]:
        if dev["outcome"] == "failed":
            log("run %s: device %s failed in %s: %s" % (run_id, dev["serial"], dev["stage"], dev["reason"]))
    return 0


def runs_json() -> str:
    """The runs with their devices, as JSON (the program's status command)."""
    with ZtpStore() as store:
        return json.dumps(RunStore(store).runs(), indent=2, sort_keys=True)
