# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZTP data model rules: vocabularies, validation, MAC and hostname rules, lifecycle.

Pure Python, no I/O: the data layer (ztp_db) calls these at its door so every
plugin and module enforces the same rules. Every error names the record and the
field, because the records come from spreadsheets typed by field technicians.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import typing as t

# Vocabularies -----------------------------------------------------------------

TOPOLOGIES = ("single_node", "multi_node")
SITE_KINDS = ("edge", "hub")
CONNECTIVITY = ("online", "intermittent", "airgapped")
PLATFORMS = ("k3s", "aks_edge")
WORKLOAD_TYPES = ("lightweight", "medium", "heavy", "database")
ROLES = ("control", "worker")
OS_FAMILIES = ("linux", "windows")
DISK_TYPES = ("ssd", "nvme", "hdd")
HARDWARE_FIELDS = ("cpu_cores", "memory_mb", "disk_gb", "disk_type")
# The device's dedicated storage disks (the storage stage's storage_disks role).
STORAGE_FIELDS = ("disks",)
# A site's outbound proxy (the Arc agents and every cloud call from the site go through it).
PROXY_FIELDS = ("https_proxy", "http_proxy", "no_proxy")
MAX_NO_PROXY = 64
DISK_FIELDS = ("id", "wipe_allowed")
BY_ID = "/dev/disk/by-id/"
MAX_DISKS = 16

# The zero-touch workflow, in order. Each stage moves a device to one state.
LIFECYCLE = (
    "registered",
    "discovered",
    "os_installed",
    "configured",
    "platform_ready",
    "workloads_deployed",
    "operational",
)
STATES = LIFECYCLE + ("failed", "decommissioned")


class Stage(t.NamedTuple):
    """A stage of the zero-touch workflow: the state a device must be in to
    start it and the state it reaches when the stage succeeds."""

    name: str
    needs: str
    reaches: str


# The stages in the order site.yml runs them. A stage whose `reaches` equals
# `needs` records facts or a failure without moving the device on; two stages
# may reach the same state (Flux through the cloud stage, or a local
# workloads stage on a site without cloud).
STAGE_FLOW = (
    Stage("discover", "registered", "discovered"),
    Stage("os_install", "discovered", "os_installed"),
    Stage("configure", "os_installed", "configured"),
    Stage("platform", "configured", "platform_ready"),
    # distributed or local storage for the cluster: recorded in the device's
    # facts (storage), no lifecycle state of its own
    Stage("storage", "platform_ready", "platform_ready"),
    Stage("cloud", "platform_ready", "workloads_deployed"),
    Stage("workloads", "platform_ready", "workloads_deployed"),
    Stage("handoff", "workloads_deployed", "operational"),
)
STAGE_BY_NAME = dict((s.name, s) for s in STAGE_FLOW)
# stage name -> the state a device reaches when that stage succeeds
STAGES = dict((s.name, s.reaches) for s in STAGE_FLOW)
# state -> the first stage that starts from it (the one a failure belongs to)
STAGE_OF_STATE = {}  # type: dict[str, str]
for _stage in STAGE_FLOW:
    STAGE_OF_STATE.setdefault(_stage.needs, _stage.name)
del _stage
# A stage may find a device one state short when the stage before it did not
# apply, and records the state it skipped with this reason: an IPC that arrives
# with its OS installed is first logged in to by the configure stage.
# A bare IPC that netboots has no OS to log in to, so the discover stage cannot
# reach it: its phone-home after the install records the discovery too.
STAGE_PASS_THROUGH = {
    "configure": {"discovered": "OS found installed by the configure stage"},
    "os_install": {"registered": "discovered by its network boot"},
}
# The same for a device that failed the stage before: netboot installs a device
# failed in discover (boot_rules), so its phone-home records the discovery.
STAGE_FAILED_THROUGH = {
    "os_install": {"discover": "discovered by its network boot after failing discover"},
}

# Hostnames are frozen once Kubernetes knows the node by that name.
HOSTNAME_FROZEN_STATES = ("platform_ready", "workloads_deployed", "operational")

MAX_NAME = 63
MAX_SERIAL = 64
MAX_LABEL_KEY = 63
MAX_LABEL_VALUE = 255
MAX_REASON = 1024
MAX_LABELS = 64
WINDOWS_HOSTNAME_MAX = 15
LINUX_HOSTNAME_MAX = 63

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SERIAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$")
_HOSTNAME_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")
_LABEL_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_BY_ID_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+@-]*$")
_HEX = "0123456789abcdef"


class ZtpError(ValueError):
    """Bad input or an illegal operation; the message names record and field."""

    def __init__(self, record: str, field: str | None, message: str) -> None:
        self.record = record
        self.field = field
        where = record if field is None else "%s: field '%s'" % (record, field)
        super().__init__("%s: %s" % (where, message))


def check_choice(record: str, field: str, value: t.Any, choices: t.Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ZtpError(record, field, "%r is not one of %s" % (value, ", ".join(choices)))
    return value


def check_name(record: str, field: str, value: t.Any) -> str:
    """Region, site and cluster names: used in group names, so kept plain."""
    if not isinstance(value, str) or not value:
        raise ZtpError(record, field, "a non-empty string is required, got %r" % (value,))
    if len(value) > MAX_NAME:
        raise ZtpError(record, field, "is %d characters long, at most %d are allowed" % (len(value), MAX_NAME))
    if not _NAME_RE.match(value):
        raise ZtpError(record, field, "%r may hold only letters, digits, '.', '_' and '-' and must start with a letter or digit" % value)
    return value


def check_serial(record: str, value: t.Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ZtpError(record, "serial", "a non-empty string is required, got %r" % (value,))
    if len(value) > MAX_SERIAL:
        raise ZtpError(record, "serial", "is %d characters long, at most %d are allowed" % (len(value), MAX_SERIAL))
    if not _SERIAL_RE.match(value):
        raise ZtpError(record, "serial", "%r may hold only letters, digits and . _ : / + -" % value)
    return value


def normalize_mac(record: str, field: str, value: t.Any) -> str:
    """Any common notation -> lower-case colon form.

    Accepts 00:11:22:33:44:55, 00-11-22-33-44-55, 0011.2233.4455 (Cisco) and
    001122334455 (iPXE ${mac:hexraw}), in either case.
    """
    if not isinstance(value, str):
        raise ZtpError(record, field, "a MAC address string is required, got %r" % (value,))
    raw = value.strip().lower()
    if re.match(r"^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$", raw) and len(set(raw[2::3])) == 1:
        digits = raw.replace(raw[2], "")
    elif re.match(r"^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$", raw):
        digits = raw.replace(".", "")
    elif re.match(r"^[0-9a-f]{12}$", raw):
        digits = raw
    else:
        raise ZtpError(record, field, "%r is not a MAC address (expected e.g. 00:11:22:33:44:55)" % value)
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def check_ip(record: str, value: t.Any) -> str:
    if not isinstance(value, str):
        raise ZtpError(record, "ip", "an IP address string is required, got %r" % (value,))
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ZtpError(record, "ip", "%r is not an IPv4 or IPv6 address" % value) from None


def check_count(record: str, field: str, value: t.Any, allow_float: bool = False) -> int | float:
    """Non-negative hardware numbers; numeric strings (CSV cells) are accepted."""
    if isinstance(value, bool):
        raise ZtpError(record, field, "a number is required, got %r" % (value,))
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text) if allow_float else None
            except ValueError:
                value = None
            if value is None:
                raise ZtpError(record, field, "%r is not a %s" % (text, "number" if allow_float else "whole number")) from None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise ZtpError(record, field, "%r is not a finite number" % (value,))
    if isinstance(value, float) and not allow_float:
        if not value.is_integer():
            raise ZtpError(record, field, "%r is not a whole number" % (value,))
        value = int(value)
    if not isinstance(value, (int, float)):
        raise ZtpError(record, field, "a number is required, got %r" % (value,))
    if value < 0:
        raise ZtpError(record, field, "must not be negative, got %r" % (value,))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


def check_hardware(record: str, value: t.Any) -> dict:
    if not isinstance(value, dict):
        raise ZtpError(record, "hardware", "a mapping is required, got %r" % (value,))
    unknown = sorted(set(value) - set(HARDWARE_FIELDS))
    if unknown:
        raise ZtpError(record, "hardware.%s" % unknown[0], "unknown hardware field (known: %s)" % ", ".join(HARDWARE_FIELDS))
    out = {}  # type: dict[str, t.Any]
    for key in ("cpu_cores", "memory_mb"):
        if value.get(key) is not None:
            out[key] = check_count(record, "hardware." + key, value[key])
    if value.get("disk_gb") is not None:
        out["disk_gb"] = check_count(record, "hardware.disk_gb", value["disk_gb"], allow_float=True)
    if value.get("disk_type") is not None:
        out["disk_type"] = check_choice(record, "hardware.disk_type", value["disk_type"], DISK_TYPES)
    return out


def check_disks(record: str, field: str, value: t.Any) -> list:
    """Dedicated disks: [{id: /dev/disk/by-id/<name>, wipe_allowed: bool}], by stable id only
    (a /dev/sdX name moves between boots); a bare id gets the prefix, a bare string is {id}."""
    if not isinstance(value, list):
        raise ZtpError(record, field, "must be a list of {id, wipe_allowed}, got %r" % (value,))
    if len(value) > MAX_DISKS:
        raise ZtpError(record, field, "has %d disks, at most %d are allowed" % (len(value), MAX_DISKS))
    disks, seen = [], set()
    for index, item in enumerate(value):
        where = "%s[%d]" % (field, index)
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict):
            raise ZtpError(record, where, "must be a mapping with id and wipe_allowed, got %r" % (item,))
        unknown = sorted(str(k) for k in set(item) - set(DISK_FIELDS))
        if unknown:
            raise ZtpError(record, "%s.%s" % (where, unknown[0]), "unknown key (known: %s)" % ", ".join(DISK_FIELDS))
        disk_id = item.get("id")
        name = disk_id[len(BY_ID):] if isinstance(disk_id, str) and disk_id.startswith(BY_ID) else disk_id
        if not isinstance(name, str) or not _BY_ID_NAME_RE.match(name) or len(name) > MAX_NAME * 2:
            raise ZtpError(record, where + ".id", "%r is not a /dev/disk/by-id/ name (a /dev/sdX name moves between boots)"
                           % (disk_id,))
        wipe = item.get("wipe_allowed", False)
        if not isinstance(wipe, bool):
            raise ZtpError(record, where + ".wipe_allowed", "must be true or false, got %r" % (wipe,))
        if BY_ID + name in seen:
            raise ZtpError(record, where + ".id", "%s is listed twice" % (BY_ID + name))
        seen.add(BY_ID + name)
        disks.append({"id": BY_ID + name, "wipe_allowed": wipe})
    return disks


def check_storage(record: str, value: t.Any) -> dict:
    """The device's storage intent: {disks: [...]} (check_disks)."""
    if not isinstance(value, dict):
        raise ZtpError(record, "storage", "a mapping is required, got %r" % (value,))
    unknown = sorted(str(k) for k in set(value) - set(STORAGE_FIELDS))
    if unknown:
        raise ZtpError(record, "storage.%s" % unknown[0], "unknown field (known: %s)" % ", ".join(STORAGE_FIELDS))
    return {"disks": check_disks(record, "storage.disks", value.get("disks") or [])}


def _proxy_url(record: str, field: str, value: t.Any) -> str:
    text = check_text(record, field, value, MAX_LABEL_VALUE)
    match = re.match(r"^(https?)://([^/?#]*)/?$", text)
    if not match:
        raise ZtpError(record, field, "an http:// or https:// URL of the proxy (scheme, host, optional port) is required")
    if "@" in match.group(2):
        # credentials in a proxy URL are a secret; the ZTP database stores none (give them to the controller)
        raise ZtpError(record, field, "holds credentials: the ZTP database stores no secrets; use a proxy that needs none")
    netloc = re.match(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::([0-9]{1,5}))?$", match.group(2))
    if not netloc or (netloc.group(1) and not 0 < int(netloc.group(1)) < 65536):
        raise ZtpError(record, field, "%r is not a proxy host[:port]" % (match.group(2),))
    return text


def check_proxy(record: str, value: t.Any) -> dict:
    """A site's outbound proxy: https_proxy, http_proxy (URLs without credentials) and no_proxy (hosts,
    domains, CIDRs; a list or a comma-separated string, kept comma-separated as the agents take it)."""
    if not isinstance(value, dict):
        raise ZtpError(record, "proxy", "a mapping is required, got %r" % (value,))
    unknown = sorted(str(k) for k in set(value) - set(PROXY_FIELDS))
    if unknown:
        raise ZtpError(record, "proxy.%s" % unknown[0], "unknown field (known: %s)" % ", ".join(PROXY_FIELDS))
    out: dict = {}
    for key in ("https_proxy", "http_proxy"):
        if value.get(key):
            out[key] = _proxy_url(record, "proxy." + key, value[key])
    no_proxy = value.get("no_proxy")
    if no_proxy:
        items = no_proxy.split(",") if isinstance(no_proxy, str) else no_proxy
        if not isinstance(items, list) or len(items) > MAX_NO_PROXY:
            raise ZtpError(record, "proxy.no_proxy", "a list (or comma-separated string) of at most %d entries is required" % MAX_NO_PROXY)
        entries = []
        for item in items:
            entry = item.strip() if isinstance(item, str) else item
            if not isinstance(entry, str) or not re.match(r"^[A-Za-z0-9.*\-_:/\[\]]{1,253}$", entry):
                raise ZtpError(record, "proxy.no_proxy", "%r is not a host, domain or CIDR" % (item,))
            entries.append(entry)
        out["no_proxy"] = ",".join(entries)
    if out and not (out.get("https_proxy") or out.get("http_proxy")):
        raise ZtpError(record, "proxy", "no_proxy without https_proxy or http_proxy says nothing")
    return out


def check_labels(record: str, value: t.Any) -> dict:
    """Free-form labels; values are kept as strings (they end up as K8s labels and groups)."""
    if not isinstance(value, dict):
        raise ZtpError(record, "labels", "a mapping is required, got %r" % (value,))
    if len(value) > MAX_LABELS:
        raise ZtpError(record, "labels", "has %d entries, at most %d are allowed" % (len(value), MAX_LABELS))
    out = {}
    for key, item in value.items():
        field = "labels.%s" % (key,)
        if not isinstance(key, str) or not key or len(key) > MAX_LABEL_KEY or not _LABEL_KEY_RE.match(key):
            raise ZtpError(record, field, "label keys are 1-%d letters, digits, '.', '_', '/', '-'" % MAX_LABEL_KEY)
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, (int, float)):
            item = str(item)
        elif item is None:
            item = ""
        if not isinstance(item, str):
            raise ZtpError(record, field, "label values are strings, got %r" % (item,))
        check_text(record, field, item, MAX_LABEL_VALUE)
        out[key] = item
    return out


def check_text(record: str, field: str, value: t.Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ZtpError(record, field, "a string is required, got %r" % (value,))
    if len(value) > limit:
        raise ZtpError(record, field, "is %d characters long, at most %d are allowed" % (len(value), limit))
    if any(ord(ch) < 32 and ch not in "\t" for ch in value):
        raise ZtpError(record, field, "must not contain control characters")
    return value


def check_workloads(record: str, value: t.Any) -> list:
    if not isinstance(value, list):
        raise ZtpError(record, "workloads", "a list is required, got %r" % (value,))
    out = []
    seen = set()
    for index, item in enumerate(value):
        field = "workloads[%d]" % index
        if not isinstance(item, dict):
            raise ZtpError(record, field, "a mapping with name and type is required, got %r" % (item,))
        unknown = sorted(set(item) - {"name", "type", "count"})
        if unknown:
            raise ZtpError(record, "%s.%s" % (field, unknown[0]), "unknown key (known: name, type, count)")
        name = check_name(record, field + ".name", item.get("name"))
        if name in seen:
            raise ZtpError(record, field + ".name", "workload %r is listed twice" % name)
        seen.add(name)
        entry: dict[str, t.Any] = {"name": name, "type": check_choice(record, field + ".type", item.get("type"), WORKLOAD_TYPES)}
        if item.get("count") is not None:
            count = check_count(record, field + ".count", item["count"])
            if count < 1:
                raise ZtpError(record, field + ".count", "must be at least 1, got %r" % (count,))
            entry["count"] = count
        out.append(entry)
    return out


def check_hostname(record: str, value: t.Any, os_family: str) -> str:
    limit = WINDOWS_HOSTNAME_MAX if os_family == "windows" else LINUX_HOSTNAME_MAX
    if not isinstance(value, str) or not value:
        raise ZtpError(record, "hostname", "a non-empty string is required, got %r" % (value,))
    if len(value) > limit:
        raise ZtpError(record, "hostname",
                       "%r is %d characters long, at most %d are allowed for %s hosts" % (value, len(value), limit, os_family))
    if not _HOSTNAME_RE.match(value):
        raise ZtpError(record, "hostname",
                       "%r must be lower-case letters, digits and '-', start with a letter and not end with '-'" % value)
    return value


# Hostname rule ------------------------------------------------------------------

def _slug(text: str) -> str:
    """Foreman-style normalisation: lower-case, [a-z0-9-], no hyphen runs or ends."""
    text = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    return re.sub(r"-{2,}", "-", text).strip("-")


def derive_hostname(site: str, role: str, serial: str, mac: str, os_family: str, taken: t.Container[str] = ()) -> str:
    """Deterministic hostname: <site>-<c|w>-<last 6 of serial (or MAC)>.

    The site part is shortened to fit the limit (15 for Windows NetBIOS names,
    63 otherwise): hyphens go first, then the end. When the name is taken, the
    serial tail becomes a hash of the serial, then a counter is appended: still
    deterministic for a given database content, and always unique.
    """
    limit = WINDOWS_HOSTNAME_MAX if os_family == "windows" else LINUX_HOSTNAME_MAX
    tail = re.sub(r"[^a-z0-9]", "", serial.lower())[-6:] or mac.replace(":", "")[-6:]
    digest = hashlib.sha1(serial.encode("utf-8")).hexdigest()[:6]
    site_part = _slug(site) or "site"
    if not site_part[0].isalpha():
        site_part = "s" + site_part
    candidates = [tail, digest] + ["%s%d" % (digest[:4], n) for n in range(2, 100)]
    for suffix in candidates:
        keep = limit - len(suffix) - 3  # two hyphens and the role letter
        prefix = site_part if len(site_part) <= keep else site_part.replace("-", "")[:keep]
        name = "%s-%s-%s" % (prefix, role[0], suffix)
        if name not in taken:
            return name
    raise ZtpError("device %s" % serial, "hostname", "no free hostname could be derived in site %s" % site)


# Lifecycle ------------------------------------------------------------------------

def next_state(state: str) -> str | None:
    if state in LIFECYCLE and state != LIFECYCLE[-1]:
        return LIFECYCLE[LIFECYCLE.index(state) + 1]
    return None


def failing_stage(state: str, failed_stage: str | None) -> str | None:
    """The stage a device in `state` is working on (the one a failure belongs to)."""
    if state == "failed":
        return failed_stage
    return STAGE_OF_STATE.get(state)


def check_transition(record: str, current: str, wanted: str, failed_stage: str | None) -> None:
    """Refuse illegal moves, naming the device, its state and the requested one.

    Legal: the next state of the workflow; `failed` from any active state; from
    `failed`, the failed stage's own state (the retry succeeded) or the state
    before it (the stage is retried); `decommissioned` from anywhere;
    `registered` (re-provisioning) from anywhere.
    """
    if wanted not in STATES:
        raise ZtpError(record, "state", "%r is not a lifecycle state (one of %s)" % (wanted, ", ".join(STATES)))
    if wanted == current and wanted != "failed":
        return
    allowed = {"decommissioned", "registered"}
    if current in LIFECYCLE:
        allowed.add("failed")
        nxt = next_state(current)
        if nxt:
            allowed.add(nxt)
    elif current == "failed":
        allowed.add("failed")
        if failed_stage in STAGE_BY_NAME:
            stage = STAGE_BY_NAME[failed_stage]
            allowed.add(stage.reaches)
            allowed.add(stage.needs)
    if wanted not in allowed:
        raise ZtpError(
            record, "state",
            "cannot move from %s to %s (allowed from %s: %s)" % (current, wanted, current, ", ".join(s for s in STATES if s in allowed)),
        )


# Stage outcomes ---------------------------------------------------------------------

STAGE_ACTIONS = ("advanced", "retried", "kept", "failed", "behind", "decommissioned")


class StagePlan(t.NamedTuple):
    """What a stage's outcome does to one device.

    action: one of STAGE_ACTIONS; moves: the state changes in order, each
    (state, failed stage or None, reason); store: whether the facts the stage
    reported for the device are kept; note: the why, for the stage's summary.
    """

    action: str
    moves: t.Tuple[t.Tuple[str, t.Optional[str], str], ...]
    store: bool
    note: str


def stage_failure_reason(text: t.Any) -> str:
    """A failure message as the event log keeps it: one line, at most MAX_REASON characters."""
    text = "".join(ch if ord(ch) >= 32 else " " for ch in str(text if text is not None else ""))
    line = " ".join(text.split()) or "failed"
    if len(line) > MAX_REASON:
        line = line[:MAX_REASON - 3] + "..."
    return line


def _progress(stage: Stage, state: str, failed_stage: str | None) -> str:
    """Where a device stands for `stage`: due, through, retry, done or behind."""
    if state == "failed":
        if failed_stage == stage.name:
            return "retry"
        if failed_stage in STAGE_FAILED_THROUGH.get(stage.name, {}):
            return "through"
        if failed_stage not in STAGE_BY_NAME:
            return "behind"
        order = [s.name for s in STAGE_FLOW]
        return "done" if order.index(failed_stage) > order.index(stage.name) else "behind"
    if state == stage.needs:
        return "due"
    if state in STAGE_PASS_THROUGH.get(stage.name, {}):
        return "through"
    if LIFECYCLE.index(state) >= LIFECYCLE.index(stage.reaches):
        return "done"
    return "behind"


def plan_stage(stage_name: str, record: str, state: str, failed_stage: str | None, failure: str | None = None) -> StagePlan:
    """The one rule of what a stage's outcome does to a device.

    Success moves a device due for the stage to the state it reaches (through
    the states STAGE_PASS_THROUGH allows), retries a device that failed in this
    stage, and keeps a device that is already there or further along (its facts
    are refreshed). A failure is recorded as `failed` in this stage, with the
    reason, for any device that has reached the stage (what the stage reported
    for it is not stored: it may be another device's). A device behind the stage
    and a decommissioned one are never touched. Every move is still checked by
    check_transition when it is written.
    """
    stage = STAGE_BY_NAME.get(stage_name)
    if stage is None:
        raise ZtpError(record, "stage", "%r is not a stage (one of %s)" % (stage_name, ", ".join(STAGES)))
    check_choice(record, "state", state, STATES)
    if state == "decommissioned":
        return StagePlan("decommissioned", (), False, "decommissioned: left untouched")
    where = _progress(stage, state, failed_stage)
    if where == "behind":
        now = "failed in %s" % failed_stage if state == "failed" else state
        return StagePlan("behind", (), False, "%s: the %s stage needs %s first; left untouched" % (now, stage.name, stage.needs))
    if failure is not None:
        # what a failed stage reported is not stored: a swapped IPC's facts are another device's
        return StagePlan("failed", (("failed", stage.name, stage_failure_reason(failure)),), False, "failed in %s" % stage.name)
    reason = "%s stage" % stage.name
    if where == "retry":
        return StagePlan("retried", ((stage.reaches, None, reason),), True, "retried: %s" % stage.reaches)
    if where == "done":
        now = "failed in %s" % failed_stage if state == "failed" else state
        return StagePlan("kept", (), True, "already %s" % now)
    moves = []  # type: list[tuple[str, t.Optional[str], str]]
    if where == "through":
        skipped = STAGE_FAILED_THROUGH[stage.name][str(failed_stage)] if state == "failed" else STAGE_PASS_THROUGH[stage.name][state]
        moves.append((stage.needs, None, skipped))
    if stage.reaches != stage.needs:
        moves.append((stage.reaches, None, reason))
    return StagePlan("advanced", tuple(moves), True, stage.reaches)
