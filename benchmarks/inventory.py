# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory benchmark of edgefleet.platform: the ztp inventory plugin against Ansible's yaml plugin.

Usage (from the collection root, with the project's virtualenv, ``bash hack/venv.sh``)::

    .venv/bin/python benchmarks/inventory.py                      # 10,000 devices, 500 sites, 3 repeats
    .venv/bin/python benchmarks/inventory.py --devices 1000 --sites 50 --repeat 1 --skip-pg
    .venv/bin/python benchmarks/inventory.py --pg-url postgresql://user:pass@host:5432/db

What one run does, all in a fresh temporary folder (``--keep`` keeps it):

1. Generates a fleet of ``--devices`` devices in ``--sites`` sites as a YAML file in the import format
   of the ZTP database (regions; sites with mixed topology, kind and connectivity; one cluster per site
   with planned workloads; devices with serial, MACs in several notations, role, os_family (the
   aks_edge sites run Windows), IP, hardware, labels, a few lifecycle states, and a few labels holding
   ``{{ ... }}`` so the unsafe path is exercised). The generator is deterministic (``--seed``).
2. Loads it with the real module, ``ansible localhost -m edgefleet.platform.ztp_import``, into a new
   SQLite database and into PostgreSQL ("import"), then once more into the loaded database ("re-import",
   which must report ``changed: false``). Each repeat of the import uses a new database (SQLite: a new
   file; PostgreSQL: a new schema selected with ``options=-csearch_path=...`` in the URL, so a
   ``--pg-url`` database is never touched outside the schemas this script creates and drops).
3. Times ``ansible-inventory -i FILE --list --output OUT`` with the ztp plugin on SQLite and on
   PostgreSQL, and with Ansible's own ``yaml`` plugin on a YAML inventory generated from the ztp
   plugin's own ``--list`` output (same hosts, groups and host vars; ``__ansible_unsafe`` wrappers
   unwrapped; strings holding a brace written as ``!unsafe`` like the ztp plugin marks them). Each run
   has ``ANSIBLE_INVENTORY_ENABLED`` set to the plugin under test only. Before anything is compared the
   listings are checked: same hosts, same group memberships and the same host vars (PostgreSQL against
   SQLite without the timestamps, which come from different imports); a difference is an error.
4. Times ``parse()`` alone, in this process: the inventory plugin loader with the collection finder (as
   the unit tests do), a new ``InventoryData`` per call, written through core's ``_InventoryDataWrapper``
   as ``ansible-inventory`` does (it tags every variable, a large part of the cost); once more into a
   bare ``InventoryData`` as the unit tests do; for the ztp plugin also the database read
   (``ZtpStore.devices``) alone. Core's start-up, vars plugins and JSON output dominate the CLI time,
   so the CLI and parse() numbers tell different things.
5. Repeats every timing ``--repeat`` times (after one untimed warm-up run of each CLI command) and
   reports the median; peak memory is the maximum RSS of each child process tree (``os.wait4``).
6. Prints a Markdown table: import times, ``ansible-inventory --list`` times, ratios against the targets
   (ztp-SQLite / yaml <= 1.0; ztp-PostgreSQL / ztp-SQLite <= 1.3), peak RSS, parse() times.

Timings are reported, never asserted: the exit status is 0 unless something is functionally wrong
(an import or listing fails, the re-import changes something, the listings differ).

PostgreSQL: unless ``--pg-url`` or ``--skip-pg`` is given, a throwaway server is started with
``hack/pg-ephemeral.sh`` (its own ``PG_EPHEMERAL_STATE`` folder inside the temporary folder) and stopped
at the end, also on errors and Ctrl-C.

The collection is found through a private ``ansible_collections/edgefleet/platform`` symlink to this
work tree (so the benchmark measures the files as they are, without touching ``.build``), or through
``--collections-path``. Child processes get a clean environment: inherited ``ANSIBLE_*`` variables and
``EDGEFLEET_ZTP_DB`` are dropped, ``ANSIBLE_HOME`` and the bytecode cache live in the temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.util
import io
import json
import os
import platform
import pstats
import random
import re
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
TARGET_ZTP_VS_YAML = 1.0
TARGET_PG_VS_SQLITE = 1.3
# Host vars that differ between two imports of the same fleet (the import time).
TIMESTAMP_VARS = ("ztp_created_at", "ztp_updated_at", "ztp_state_changed_at")

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    sys.exit("benchmarks/inventory.py: PyYAML is missing: run it with the project's .venv/bin/python (bash hack/venv.sh)")


class BenchError(Exception):
    """Something is functionally wrong: the run fails (exit 1)."""


def log(message: str) -> None:
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def redact(text: str) -> str:
    return re.sub(r"(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@", r"\1:********@", text)


# Fleet generation ------------------------------------------------------------------------------------

REGIONS = ("emea", "amer", "apac", "mea", "latam", "anz", "nordics", "dach")
VENDORS = ("siemens", "beckhoff", "advantech", "b-and-r", "kontron", "moxa")
HARDWARE = (
    {"cpu_cores": 2, "memory_mb": 4096, "disk_gb": 64, "disk_type": "hdd"},
    {"cpu_cores": 4, "memory_mb": 8192, "disk_gb": 128, "disk_type": "ssd"},
    {"cpu_cores": 8, "memory_mb": 16384, "disk_gb": 256, "disk_type": "nvme"},
    {"cpu_cores": 16, "memory_mb": 32768, "disk_gb": 512, "disk_type": "nvme"},
    {"cpu_cores": 8, "memory_mb": 32768, "disk_gb": 1000, "disk_type": "ssd"},
)
WORKLOADS = (
    ("opcua-gateway", "medium"), ("historian", "database"), ("mqtt-broker", "lightweight"),
    ("vision-inference", "heavy"), ("mes-connector", "medium"), ("node-exporter", "lightweight"),
    ("timeseries-db", "database"), ("scada-hmi", "medium"), ("edge-analytics", "heavy"),
)
TEMPLATE_LABEL = "{{ lookup('ansible.builtin.pipe', 'id') }}"


def _mac(number: int, notation: int) -> str:
    digits = "02ef%08x" % number
    if notation == 0:
        return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    if notation == 1:
        return "-".join(digits[i:i + 2] for i in range(0, 12, 2)).upper()
    if notation == 2:
        return ".".join(digits[i:i + 4] for i in range(0, 12, 4))
    return digits.upper()


def generate_fleet(devices: int, sites: int, seed: int) -> tuple:
    """The import document and a summary of what it holds."""
    rnd = random.Random(seed)
    regions = [{"name": name} for name in REGIONS[:max(1, min(len(REGIONS), sites // 25 or 1))]]
    site_recs, cluster_recs = [], []
    for index in range(sites):
        name = "plant-%04d" % (index + 1)
        single = index % 10 == 9           # 10% single-node sites
        aks = index % 10 == 4              # 10% AKS Edge Essentials sites (Windows hosts)
        site_recs.append({
            "name": name,
            "region": regions[index % len(regions)]["name"],
            "topology": "single_node" if single else "multi_node",
            "kind": "hub" if index % 25 == 0 else "edge",
            "connectivity": rnd.choices(("online", "intermittent", "airgapped"), (7, 2, 1))[0],
        })
        workloads = rnd.sample(WORKLOADS, rnd.randint(2, 5))
        cluster_recs.append({
            "name": "%s-line1" % name,
            "site": name,
            "platform": "aks_edge" if aks else "k3s",
            "workloads": [{"name": w, "type": t} for w, t in workloads],
        })
    # Single-node sites hold one device; the rest is spread evenly over the multi-node sites.
    singles = [i for i, s in enumerate(site_recs) if s["topology"] == "single_node"]
    multis = [i for i, s in enumerate(site_recs) if s["topology"] == "multi_node"] or singles
    per_site = [0] * sites
    remaining = devices
    for i in singles:
        if remaining > 0 and len(multis) != len(singles):
            per_site[i] = 1
            remaining -= 1
    for n in range(remaining):
        per_site[multis[n % len(multis)]] += 1

    device_recs = []
    states = {"registered": 0, "discovered": 0, "failed": 0, "decommissioned": 0}
    number = 0
    for index, site in enumerate(site_recs):
        cluster = cluster_recs[index]
        windows = cluster["platform"] == "aks_edge"
        controls = 1 if site["topology"] == "single_node" or per_site[index] < 4 else 3
        for k in range(per_site[index]):
            number += 1
            rec = {
                # The hostname rule takes the serial's last 6 characters: unique across the fleet,
                # so inventory host names (hostnames are unique per site only) do not collide.
                "serial": "EF%07d" % number,
                "mac": _mac(2 * number, number % 4),
                "site": site["name"],
                "cluster": cluster["name"],
                "role": "control" if k < controls else "worker",
                "os_family": "windows" if windows else "linux",
                "ip": "10.%d.%d.%d" % (number >> 16 & 255, number >> 8 & 255, number & 255),
                "hardware": dict(HARDWARE[rnd.randrange(len(HARDWARE))]),
                "labels": {"line": str(k % 4 + 1), "rack": "r%02d" % (k // 8 + 1), "vendor": rnd.choice(VENDORS)},
            }
            if number % 2 == 0:
                rec["macs"] = [_mac(2 * number + 1, 0)]
            if number % 997 == 0:
                rec["labels"]["note"] = TEMPLATE_LABEL
            roll = rnd.random()
            if roll < 0.30:
                rec["state"] = "discovered"
            elif roll < 0.32:
                rec.update(state="failed", stage="discover", reason="PXE boot timed out")
            elif roll < 0.33:
                rec["state"] = "decommissioned"
            states[rec.get("state", "registered")] += 1
            device_recs.append(rec)
    document = {"regions": regions, "sites": site_recs, "clusters": cluster_recs, "devices": device_recs}
    summary = {
        "regions": len(regions), "sites": sites, "clusters": len(cluster_recs), "devices": devices,
        "windows": sum(1 for d in device_recs if d["os_family"] == "windows"),
        "states": states,
        "listed": devices - states["decommissioned"],  # the plugin leaves decommissioned devices out
    }
    return document, summary


def dump_yaml(data, path: str) -> None:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump(data, handle, Dumper=dumper, default_flow_style=False, sort_keys=False, allow_unicode=True, width=1000)


# Child processes -------------------------------------------------------------------------------------

class Run:
    def __init__(self, seconds: float, maxrss_kib: int, rc: int, stdout: str, stderr: str) -> None:
        self.seconds = seconds
        self.maxrss_kib = maxrss_kib
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


class Bench:
    def __init__(self, args: argparse.Namespace, work: str) -> None:
        self.args = args
        self.work = work
        self.collections = args.collections_path or os.path.join(work, "collections")
        if not args.collections_path:
            parent = os.path.join(self.collections, "ansible_collections", "edgefleet")
            os.makedirs(parent)
            os.symlink(ROOT, os.path.join(parent, "platform"))
        self.home = os.path.join(work, "ansible-home")
        os.makedirs(self.home)
        self.counter = 0

    def env(self, enabled: str) -> dict:
        # PYTHONDONTWRITEBYTECODE is dropped too: the collection's bytecode is cached (in the temporary
        # folder) as it would be for a user, so no run pays for compiling it.
        env = dict((k, v) for k, v in os.environ.items()
                   if not k.startswith("ANSIBLE_") and k not in ("EDGEFLEET_ZTP_DB", "PYTHONDONTWRITEBYTECODE"))
        env.update(
            PATH=VENV_BIN + os.pathsep + env.get("PATH", ""),
            ANSIBLE_HOME=self.home,
            ANSIBLE_LOCAL_TEMP=os.path.join(self.home, "tmp"),
            ANSIBLE_COLLECTIONS_PATH=self.collections,
            ANSIBLE_INVENTORY_ENABLED=enabled,
            ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
            ANSIBLE_NOCOLOR="true",
            ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            ANSIBLE_LOCALHOST_WARNING="false",
            PYTHONPYCACHEPREFIX=os.path.join(self.work, "pycache"),
        )
        return env

    def run(self, argv: list, enabled: str, what: str) -> Run:
        """Run argv, return wall time and the peak RSS of its process tree; fail loudly on rc != 0."""
        self.counter += 1
        out_path = os.path.join(self.work, "logs", "%03d.out" % self.counter)
        err_path = out_path[:-4] + ".err"
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=self.work, env=self.env(enabled))
            try:
                status, usage = os.wait4(proc.pid, 0)[1:]
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            seconds = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
        with open(out_path, encoding="utf-8", errors="replace") as handle:
            stdout = handle.read()
        with open(err_path, encoding="utf-8", errors="replace") as handle:
            stderr = handle.read()
        if proc.returncode != 0:
            raise BenchError("%s failed (rc %d): %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s"
                             % (what, proc.returncode, redact(" ".join(shlex.quote(a) for a in argv)),
                                redact(stdout[-3000:]), redact(stderr[-3000:])))
        return Run(seconds, usage.ru_maxrss, proc.returncode, stdout, stderr)

    # import ------------------------------------------------------------------------------------------
    def ztp_import(self, src: str, url: str, what: str) -> tuple:
        argv = [os.path.join(VENV_BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                "-m", "edgefleet.platform.ztp_import", "-a", "src=%s database=%s" % (shlex.quote(src), shlex.quote(url))]
        run = self.run(argv, "ansible.builtin.host_list", what)
        match = re.search(r"^localhost \| (\w+) => (\{.*\})\s*$", run.stdout, re.S | re.M)
        if not match:
            raise BenchError("%s: unexpected output:\n%s" % (what, redact(run.stdout[-3000:])))
        return run, json.loads(match.group(2))

    # ansible-inventory -------------------------------------------------------------------------------
    def inventory_list(self, source: str, enabled: str, out: str, what: str) -> Run:
        argv = [os.path.join(VENV_BIN, "ansible-inventory"), "-i", source, "--list", "--output", out]
        return self.run(argv, enabled, what)


def median(values: list) -> float:
    return statistics.median(values) if values else float("nan")


# Listings --------------------------------------------------------------------------------------------

def unwrap(value):
    """Drop the {"__ansible_unsafe": ...} (and similar) wrappers ansible-inventory may print."""
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key in ("__ansible_unsafe", "__ansible_vault"):
                return unwrap(value[key])
        return dict((k, unwrap(v)) for k, v in value.items())
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def load_listing(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return unwrap(json.load(handle))


def structure(listing: dict) -> tuple:
    """(hosts, {group: (sorted hosts, sorted children)}, hostvars) of an ansible-inventory --list output."""
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    groups = {}
    hosts = set(hostvars)
    for name, body in listing.items():
        if name == "_meta":
            continue
        members = sorted(body.get("hosts", []))
        hosts.update(members)
        groups[name] = (members, sorted(body.get("children", [])))
    return hosts, groups, hostvars


def compare_listings(left_name: str, left: dict, right_name: str, right: dict, ignore_vars: tuple = ()) -> None:
    lh, lg, lv = structure(left)
    rh, rg, rv = structure(right)
    problems = []
    if lh != rh:
        problems.append("hosts differ: %d only in %s (e.g. %s), %d only in %s (e.g. %s)" % (
            len(lh - rh), left_name, sorted(lh - rh)[:3], len(rh - lh), right_name, sorted(rh - lh)[:3]))
    if set(lg) != set(rg):
        problems.append("groups differ: only in %s %s, only in %s %s" % (
            left_name, sorted(set(lg) - set(rg))[:5], right_name, sorted(set(rg) - set(lg))[:5]))
    diff_groups = [g for g in sorted(set(lg) & set(rg)) if lg[g] != rg[g]]
    if diff_groups:
        problems.append("%d groups have different members, e.g. %s" % (len(diff_groups), diff_groups[:5]))
    diff_vars = []
    for host in sorted(lh & rh):
        a = dict((k, v) for k, v in lv.get(host, {}).items() if k not in ignore_vars)
        b = dict((k, v) for k, v in rv.get(host, {}).items() if k not in ignore_vars)
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k, KeyError) != b.get(k, KeyError))
            diff_vars.append("%s: %s" % (host, keys[:5]))
    if diff_vars:
        problems.append("%d hosts have different host vars, e.g. %s" % (len(diff_vars), diff_vars[:3]))
    if problems:
        raise BenchError("the listings of %s and %s differ:\n  - %s" % (left_name, right_name, "\n  - ".join(problems)))


class UnsafeText(str):
    """A string written with the !unsafe tag (the ztp plugin marks strings holding a brace unsafe)."""


def _unsafe_dumper():
    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc,valid-type]
        pass

    Dumper.add_representer(UnsafeText, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))
    return Dumper


def _mark_unsafe(value):
    if isinstance(value, str):
        return UnsafeText(value) if ("{" in value or "}" in value) else value
    if isinstance(value, dict):
        return dict((k, _mark_unsafe(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_mark_unsafe(v) for v in value]
    return value


def yaml_inventory_from_listing(listing: dict, path: str) -> None:
    """A yaml-plugin inventory with the listing's hosts, groups and host vars.

    Every group is a child of `all` with its hosts (and children, if any); each host's vars are
    written once, at its first appearance, so no host is added to `all` directly.
    """
    groups, hostvars = structure(listing)[1:]
    written = set()
    children = {}
    for name in listing.get("all", {}).get("children", []):
        if name == "ungrouped" and not groups.get(name, ([], []))[0]:
            continue
        children[name] = None
    tree = {}
    for name, (members, kids) in groups.items():
        if name == "all":
            continue
        body = {}
        if members:
            body["hosts"] = {}
            for host in members:
                if host in written:
                    body["hosts"][host] = None
                else:
                    written.add(host)
                    body["hosts"][host] = _mark_unsafe(hostvars.get(host, {})) or None
        if kids:
            body["children"] = dict((k, None) for k in kids)
        tree[name] = body or None
    for name in children:
        children[name] = tree.pop(name, None)
    # groups that are only someone else's children (not direct children of all)
    children.update(tree)
    document = {"all": {"children": children}}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump(document, handle, Dumper=_unsafe_dumper(), default_flow_style=False, sort_keys=False, allow_unicode=True, width=1000)


# In-process parse -------------------------------------------------------------------------------------

class InProcess:
    """parse() alone, with the real plugin loader and the collection finder (as tests/unit do).

    ``wrapped``: the plugin writes through core's ``_InventoryDataWrapper``, exactly as under
    ``InventoryManager.parse_source`` (ansible-inventory), which tags every variable it is given
    (origin, trust); ``bare``: straight into ``InventoryData``, as the unit tests do.
    """

    def __init__(self, collections: str) -> None:
        sys.dont_write_bytecode = True
        from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
        _AnsibleCollectionFinder(paths=[collections])._install()
        from ansible.inventory.data import InventoryData
        from ansible.parsing.dataloader import DataLoader
        from ansible.plugins.loader import inventory_loader
        try:
            from ansible._internal._datatag._tags import Origin
            from ansible.inventory.manager import _InventoryDataWrapper
        except ImportError:  # an older or newer core: the bare numbers only
            _InventoryDataWrapper = Origin = None
        self.InventoryData = InventoryData
        self.DataLoader = DataLoader
        self.loader = inventory_loader
        self.Wrapper = _InventoryDataWrapper
        self.Origin = Origin

    def parse(self, plugin_name: str, path: str, wrapped: bool = True) -> tuple:
        plugin = self.loader.get(plugin_name)
        if plugin is None:
            raise BenchError("inventory plugin %s not found" % plugin_name)
        data = self.InventoryData()
        data.current_source = path
        target = data
        if wrapped and self.Wrapper is not None:
            origin = self.Origin(description="<inventory plugin %r with source %r>" % (plugin_name, path))
            target = self.Wrapper(data, target_plugin=plugin, origin=origin)
        loader = self.DataLoader()
        start = time.perf_counter()
        plugin.parse(target, loader, path, cache=False)
        seconds = time.perf_counter() - start
        return seconds, len(data.hosts)

    def read(self, url: str) -> tuple:
        from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
        start = time.perf_counter()
        with ZtpStore(url, create=False) as store:
            devices = store.devices(with_facts=False, include_decommissioned=False)
        return time.perf_counter() - start, len(devices)


# PostgreSQL ------------------------------------------------------------------------------------------

class Postgres:
    """The server (own throwaway one or --pg-url) and one schema per import repeat."""

    def __init__(self, args: argparse.Namespace, work: str) -> None:
        if importlib.util.find_spec("psycopg") is None:
            raise BenchError("PostgreSQL needs psycopg in this Python (use .venv/bin/python) or pass --skip-pg")
        self.state = os.path.join(work, "pg-state")
        self.own = not args.pg_url
        self.url = args.pg_url
        self.schemas = []
        self.started = False
        self.version = "?"

    def start(self) -> None:
        if self.own:
            log("starting a throwaway PostgreSQL (hack/pg-ephemeral.sh, PG_EPHEMERAL_STATE=%s)" % self.state)
            self.started = True
            proc = subprocess.run(["bash", os.path.join(ROOT, "hack", "pg-ephemeral.sh"), "start"],
                                  env=dict(os.environ, PG_EPHEMERAL_STATE=self.state), capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise BenchError("hack/pg-ephemeral.sh start failed:\n%s" % redact(proc.stderr[-3000:]))
            with open(os.path.join(self.state, "url"), encoding="utf-8") as handle:
                self.url = handle.read().strip()
        import psycopg
        with psycopg.connect(self.url, autocommit=True, connect_timeout=15) as conn:
            self.version = conn.execute("SHOW server_version").fetchone()[0]

    def new_schema(self) -> str:
        import psycopg
        name = "ztp_bench_%d_%d" % (os.getpid(), len(self.schemas) + 1)
        with psycopg.connect(self.url, autocommit=True, connect_timeout=15) as conn:
            conn.execute("CREATE SCHEMA %s" % name)
        self.schemas.append(name)
        option = urllib.parse.quote("-csearch_path=%s" % name, safe="")
        return "%s%soptions=%s" % (self.url, "&" if "?" in self.url else "?", option)

    def stop(self) -> None:
        if self.schemas and not self.own:
            try:
                import psycopg
                with psycopg.connect(self.url, autocommit=True, connect_timeout=15) as conn:
                    for name in self.schemas:
                        conn.execute("DROP SCHEMA IF EXISTS %s CASCADE" % name)
            except Exception as exc:  # report, never hide the real outcome
                log("could not drop the benchmark schemas %s: %s" % (", ".join(self.schemas), redact(str(exc))))
        if self.own and self.started:
            proc = subprocess.run(["bash", os.path.join(ROOT, "hack", "pg-ephemeral.sh"), "stop"],
                                  env=dict(os.environ, PG_EPHEMERAL_STATE=self.state), capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                log("hack/pg-ephemeral.sh stop failed: %s" % proc.stderr.strip())
            else:
                log("PostgreSQL stopped")


# The benchmark ---------------------------------------------------------------------------------------

def write_ztp_config(path: str, url: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("plugin: edgefleet.platform.ztp\ndatabase: %s\n" % json.dumps(url))
    os.chmod(path, 0o600)


def fmt_s(value) -> str:
    return "–" if value is None else "%.2f s" % value


def fmt_ms(value) -> str:
    return "–" if value is None else "%.0f ms" % (value * 1000)


def fmt_mib(kib) -> str:
    return "–" if kib is None else "%.0f MiB" % (kib / 1024.0)


def run_benchmark(args: argparse.Namespace, work: str) -> int:
    bench = Bench(args, work)
    repeat = args.repeat
    engines = ["sqlite"] if args.skip_pg else ["sqlite", "postgresql"]
    pg = None if args.skip_pg else Postgres(args, work)
    try:
        if pg:
            pg.start()
            if not pg.own:
                log("using the PostgreSQL server of --pg-url %s (schemas ztp_bench_* are created and dropped)" % redact(pg.url))

        # 1. fleet ---------------------------------------------------------------------------------
        document, summary = generate_fleet(args.devices, args.sites, args.seed)
        fleet = os.path.join(work, "fleet.yml")
        dump_yaml(document, fleet)
        log("fleet: %(devices)d devices (%(windows)d windows) in %(sites)d sites, %(regions)d regions, states %(states)s" % summary
            + " -> %s (%.1f MiB)" % (fleet, os.path.getsize(fleet) / 1048576.0))

        # 2. import --------------------------------------------------------------------------------
        # The engines take turns, so a change in the machine's load hits both alike.
        imports = dict((e, []) for e in engines)
        reimports = dict((e, []) for e in engines)
        urls = {}
        for n in range(repeat):
            for engine in engines:
                if engine == "sqlite":
                    url = "sqlite:///%s" % os.path.join(work, "ztp-%d.db" % (n + 1))
                else:
                    url = pg.new_schema()
                run, result = bench.ztp_import(fleet, url, "ztp_import into a new %s database" % engine)
                created = result.get("created", {})
                if len(created.get("devices", [])) != args.devices or len(created.get("sites", [])) != args.sites:
                    raise BenchError("ztp_import into %s created %d devices and %d sites, expected %d and %d"
                                     % (engine, len(created.get("devices", [])), len(created.get("sites", [])), args.devices, args.sites))
                imports[engine].append(run)
                log("import %s #%d: %.2f s, peak RSS %s" % (engine, n + 1, run.seconds, fmt_mib(run.maxrss_kib)))
                urls.setdefault(engine, url)
        for n in range(repeat):
            for engine in engines:
                run, result = bench.ztp_import(fleet, urls[engine], "ztp_import again into the %s database" % engine)
                if result.get("changed") or result.get("unchanged", {}).get("devices") != args.devices:
                    raise BenchError("re-importing the same fleet into %s was not idempotent: changed=%s, unchanged=%s"
                                     % (engine, result.get("changed"), result.get("unchanged")))
                reimports[engine].append(run)
                log("re-import %s #%d: %.2f s (changed: false)" % (engine, n + 1, run.seconds))

        # 3. ansible-inventory --list --------------------------------------------------------------
        configs = {}
        for engine in engines:
            configs[engine] = os.path.join(work, "fleet-%s.ztp.yml" % engine)
            write_ztp_config(configs[engine], urls[engine])
        yaml_inv = os.path.join(work, "fleet-hosts.yml")
        cases = [("ztp-sqlite", configs["sqlite"], "edgefleet.platform.ztp"), ("yaml", yaml_inv, "ansible.builtin.yaml")]
        if pg:
            cases.append(("ztp-postgresql", configs["postgresql"], "edgefleet.platform.ztp"))
        listings = {}
        cli = dict((case[0], []) for case in cases)
        # One untimed warm-up run of each (its listing is the one checked), then the timed runs take turns.
        for key, source, enabled in cases:
            out = os.path.join(work, "list-%s-0.json" % key)
            run = bench.inventory_list(source, enabled, out, "ansible-inventory --list (%s)" % key)
            listings[key] = load_listing(out)
            log("ansible-inventory %s warm-up: %.2f s" % (key, run.seconds))
            if key == "ztp-sqlite":
                hosts, groups = structure(listings[key])[:2]
                if len(hosts) != summary["listed"]:
                    raise BenchError("the ztp plugin listed %d hosts, the fleet has %d devices that are not decommissioned"
                                     " (host names collide?)" % (len(hosts), summary["listed"]))
                yaml_inventory_from_listing(listings[key], yaml_inv)
                log("yaml inventory with the same %d hosts and %d groups -> %s (%.1f MiB)"
                    % (len(hosts), len(groups), yaml_inv, os.path.getsize(yaml_inv) / 1048576.0))
        compare_listings("ztp-sqlite", listings["ztp-sqlite"], "yaml", listings["yaml"])
        if pg:
            compare_listings("ztp-sqlite", listings["ztp-sqlite"], "ztp-postgresql", listings["ztp-postgresql"], TIMESTAMP_VARS)
        log("listings agree: %d hosts, %d groups, same host vars" % (len(hosts), len(groups)))
        for n in range(1, repeat + 1):
            for key, source, enabled in cases:
                out = os.path.join(work, "list-%s-%d.json" % (key, n))
                run = bench.inventory_list(source, enabled, out, "ansible-inventory --list (%s)" % key)
                cli[key].append(run)
                log("ansible-inventory %s #%d: %.2f s, peak RSS %s" % (key, n, run.seconds, fmt_mib(run.maxrss_kib)))

        # 4. parse() alone ---------------------------------------------------------------------------
        inproc = InProcess(bench.collections)
        parse = {}
        reads = {}
        sources = [("yaml", "ansible.builtin.yaml", yaml_inv)] + [
            ("ztp-" + e, "edgefleet.platform.ztp", configs[e]) for e in engines]
        bare = {}
        for key, plugin, source in sources:
            if key != "yaml":
                inproc.parse(plugin, source)  # warm-up: imports, the first connection
            times = []
            for dummy in range(repeat):
                seconds, count = inproc.parse(plugin, source)
                if count != len(hosts):
                    raise BenchError("%s parse() produced %d hosts, expected %d" % (key, count, len(hosts)))
                times.append(seconds)
            parse[key] = times
            # into a bare InventoryData, as the unit tests do: one run (the yaml one is slow)
            bare[key] = inproc.parse(plugin, source, wrapped=False)[0]
            log("parse() %s: %s; bare InventoryData: %.3f s" % (key, ", ".join("%.3f s" % s for s in times), bare[key]))
        for engine in engines:
            reads[engine] = [inproc.read(urls[engine])[0] for dummy in range(repeat)]

        if args.profile:
            profile_parse(inproc, dict((k, (p, s)) for k, p, s in sources), args.profile)

        # 6. report --------------------------------------------------------------------------------
        report(args, summary, len(hosts), len(groups), engines, imports, reimports, cli, parse, bare, reads,
               pg.version if pg else None)
        return 0
    finally:
        if pg:
            pg.stop()


def profile_parse(inproc: InProcess, sources: dict, top: int) -> None:
    for key in ("ztp-sqlite", "yaml"):
        plugin, source = sources[key]
        profiler = cProfile.Profile()
        profiler.enable()
        inproc.parse(plugin, source)
        profiler.disable()
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        print("\n### cProfile of parse() (%s)\n\n```\n%s```" % (key, stream.getvalue()), file=sys.stderr)


def report(args, summary, hosts, groups, engines, imports, reimports, cli, parse, bare, reads, pg_version) -> None:
    def med(runs):
        return median([r.seconds for r in runs]) if runs else None

    def peak(runs):
        return max(r.maxrss_kib for r in runs) if runs else None

    has_pg = "postgresql" in engines
    imp_s, imp_p = med(imports["sqlite"]), med(imports.get("postgresql"))
    re_s, re_p = med(reimports["sqlite"]), med(reimports.get("postgresql"))
    cli_y, cli_s, cli_p = med(cli["yaml"]), med(cli["ztp-sqlite"]), med(cli.get("ztp-postgresql"))
    par_y, par_s, par_p = median(parse["yaml"]), median(parse["ztp-sqlite"]), (median(parse["ztp-postgresql"]) if has_pg else None)
    rd_s, rd_p = median(reads["sqlite"]), (median(reads["postgresql"]) if has_pg else None)

    import ansible
    lines = []
    lines.append("### Inventory benchmark: %d devices in %d sites (%d listed hosts, %d groups), median of %d"
                 % (args.devices, args.sites, hosts, groups, args.repeat))
    lines.append("")
    lines.append("Python %s, ansible-core %s, SQLite %s, PostgreSQL %s, %s, %d CPUs."
                 % (platform.python_version(), ansible.__version__, sqlite3.sqlite_version,
                    pg_version or "skipped", platform.machine(), os.cpu_count() or 0))
    lines.append("")
    lines.append("| | yaml plugin | ztp on SQLite | ztp on PostgreSQL |")
    lines.append("|---|---:|---:|---:|")
    lines.append("| import (`ztp_import`, new database) | – | %s | %s |" % (fmt_s(imp_s), fmt_s(imp_p)))
    lines.append("| re-import (idempotent, `changed: false`) | – | %s | %s |" % (fmt_s(re_s), fmt_s(re_p)))
    lines.append("| peak RSS of the import | – | %s | %s |" % (fmt_mib(peak(imports["sqlite"])), fmt_mib(peak(imports.get("postgresql")))))
    lines.append("| **`ansible-inventory --list`** | **%s** | **%s** | **%s** |" % (fmt_s(cli_y), fmt_s(cli_s), fmt_s(cli_p)))
    lines.append("| peak RSS of `ansible-inventory --list` | %s | %s | %s |"
                 % (fmt_mib(peak(cli["yaml"])), fmt_mib(peak(cli["ztp-sqlite"])), fmt_mib(peak(cli.get("ztp-postgresql")))))
    lines.append("| `parse()` alone, in-process (core's inventory wrapper, as in ansible-inventory) | %s | %s | %s |"
                 % (fmt_ms(par_y), fmt_ms(par_s), fmt_ms(par_p)))
    lines.append("| `parse()` into a bare `InventoryData` (as the unit tests; 1 run) | %s | %s | %s |"
                 % (fmt_ms(bare["yaml"]), fmt_ms(bare["ztp-sqlite"]), fmt_ms(bare.get("ztp-postgresql"))))
    lines.append("| of which the database read (`ZtpStore.devices`) | – | %s | %s |" % (fmt_ms(rd_s), fmt_ms(rd_p)))
    lines.append("")

    def ratio_row(label, num, den, target):
        if num is None or den is None:
            return "| %s | – | %s | skipped |" % (label, "<= %.1f" % target if target else "(info)")
        value = num / den
        if target is None:
            return "| %s | %.2f | (info) | – |" % (label, value)
        return "| %s | %.2f | <= %.1f | %s |" % (label, value, target, "**met**" if value <= target else "**NOT met**")

    lines.append("| ratio | value | target | |")
    lines.append("|---|---:|---:|---|")
    lines.append(ratio_row("`ansible-inventory --list`: ztp-SQLite / yaml", cli_s, cli_y, TARGET_ZTP_VS_YAML))
    lines.append(ratio_row("`ansible-inventory --list`: ztp-PostgreSQL / ztp-SQLite", cli_p, cli_s, TARGET_PG_VS_SQLITE))
    lines.append(ratio_row("`parse()` alone: ztp-SQLite / yaml", par_s, par_y, None))
    lines.append(ratio_row("`parse()` alone: ztp-PostgreSQL / ztp-SQLite", par_p, par_s, None))
    lines.append(ratio_row("import: PostgreSQL / SQLite", imp_p, imp_s, None))
    lines.append("")
    lines.append("Command: `%s`" % " ".join(shlex.quote(a) for a in [".venv/bin/python", "benchmarks/inventory.py"] + args.argv_shown))
    print("\n".join(lines))


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and the defaults of the options that have one."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/inventory.py",
        description=__doc__,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--devices", type=int, default=10000, help="number of devices in the fleet")
    parser.add_argument("--sites", type=int, default=500, help="number of sites (one cluster each)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (the median is reported)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the fleet generator")
    parser.add_argument("--pg-url", help="use this PostgreSQL (postgresql://user:pass@host:port/db) instead of a"
                        " throwaway server; the user needs CREATE on the database (schemas ztp_bench_* are created and dropped)")
    parser.add_argument("--skip-pg", action="store_true", help="SQLite only")
    parser.add_argument("--collections-path", help="folder holding ansible_collections/edgefleet/platform"
                        " (default: a private symlink to this work tree)")
    parser.add_argument("--workdir", help="parent of the temporary folder (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (fleet, databases, listings, logs)")
    parser.add_argument("--profile", type=int, nargs="?", const=25, default=0, metavar="N",
                        help="also print cProfile top-N tables of one in-process parse() (ztp-SQLite and yaml) on stderr")
    args = parser.parse_args(argv)
    if args.devices < 1 or args.sites < 1 or args.repeat < 1:
        parser.error("--devices, --sites and --repeat must be at least 1")
    if args.devices > 9999999:
        parser.error("--devices is at most 9999999")
    if args.pg_url and args.skip_pg:
        parser.error("--pg-url and --skip-pg exclude each other")
    if args.collections_path:
        args.collections_path = os.path.abspath(args.collections_path)
        if not os.path.isdir(os.path.join(args.collections_path, "ansible_collections", "edgefleet", "platform")):
            parser.error("%s holds no ansible_collections/edgefleet/platform" % args.collections_path)
    args.argv_shown = [redact(a) for a in argv]
    return args


def main(argv: list | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not os.path.exists(os.path.join(VENV_BIN, "ansible-inventory")):
        print("benchmarks/inventory.py: ansible-inventory is not next to %s: run it with the project's"
              " .venv/bin/python (bash hack/venv.sh)" % sys.executable, file=sys.stderr)
        return 2
    # SIGTERM/SIGHUP end the run like Ctrl-C, so PostgreSQL is stopped and the folder removed.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    work = tempfile.mkdtemp(prefix="edgefleet-bench-", dir=args.workdir)
    try:
        return run_benchmark(args, work)
    except BenchError as exc:
        print("benchmarks/inventory.py: FAILED: %s" % redact(str(exc)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("benchmarks/inventory.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            log("kept %s" % work)
        else:
            with contextlib.suppress(OSError):
                shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
