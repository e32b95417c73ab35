# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Audit a Linux host against hardening controls given as data.

Three layers, so the logic is testable without a host:

* :func:`validate_controls` checks the control dicts (every error names the
  control id and the field) and returns them normalised.
* ``evaluate_*`` and ``parse_*`` are pure functions from observed text (``sshd -T``
  output, ``nft -j`` JSON, file contents...) to ``(status, observed, reason)``.
* :class:`Host` is the thin collector: it runs each command once and caches
  it (one ``sshd -T`` for all sshd controls, one ``systemctl show`` for all
  units, one ``nft -j list table`` per table...). It reads files under
  ``root`` and runs commands through the callables it is given.

:func:`audit` ties them together and builds the report. Nothing here changes
the host, and nothing here imports Ansible.
"""

from __future__ import annotations

import glob
import grp
import json
import os
import pwd
import re
import stat
import typing as t

PASS = "pass"
FAIL = "fail"
WAIVED = "waived"
NOT_APPLICABLE = "not_applicable"
STATUSES = (PASS, FAIL, WAIVED, NOT_APPLICABLE)

Outcome = t.Tuple[str, t.Any, str]  # (status, observed, reason)
Runner = t.Callable[[t.List[str]], t.Tuple[int, str, str]]
Which = t.Callable[[str], t.Optional[str]]


class ControlError(ValueError):
    """A control dict is invalid; names the control and the field."""

    def __init__(self, control_id: str, field: str, problem: str):
        self.control_id = control_id
        self.field = field
        super().__init__("control %s: field '%s': %s" % (control_id, field, problem))


class Unobservable(Exception):
    """The state a control needs cannot be observed; carries the resulting status."""

    def __init__(self, status: str, reason: str, observed: t.Any = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.observed = observed


# --- control validation -------------------------------------------------------

_STR = "str"
_SCALAR = "scalar"  # str or int, compared as a string
_BOOL = "bool"
_STR_LIST = "list of str"
_STR_LIST_OR_EMPTY = "list of str, may be empty"
_INT_LIST = "list of int"
_STR_DICT = "dict of str"

COMMON_REQUIRED = {"id": _STR, "area": _STR, "title": _STR, "check": _STR}
COMMON_OPTIONAL = {"waive_in_container": _STR, "when_present": _STR}

# check type -> (required fields, optional fields)
CHECK_FIELDS: t.Dict[str, t.Tuple[t.Dict[str, str], t.Dict[str, str]]] = {
    "sshd": ({"key": _STR}, {"expected": _SCALAR, "allowed": _STR_LIST, "required": _STR_LIST}),
    "sysctl": ({"key": _STR, "expected": _SCALAR}, {}),
    "module_blocked": ({"module": _STR}, {}),
    "module_loaded": ({"module": _STR}, {}),
    "file": ({"path": _STR}, {"mode": _STR, "owner": _SCALAR, "group": _SCALAR, "contains": _STR}),
    "service": ({"name": _STR}, {"enabled": _BOOL, "active": _BOOL}),
    "nftables": ({"family": _STR, "table": _STR}, {"chains": _STR_DICT, "tcp_ports": _INT_LIST, "udp_ports": _INT_LIST}),
    "config": ({"path": _STR, "key": _STR, "expected": _SCALAR}, {"include": _STR, "separator": _STR, "section": _STR}),
    "systemd_config": ({"config": _STR, "section": _STR, "key": _STR, "expected": _SCALAR}, {}),
    "apt_config": ({"key": _STR, "expected": _SCALAR}, {}),
    "pam": ({"file": _STR, "module": _STR}, {"args": _STR_LIST_OR_EMPTY}),
    "audit_rules": ({"keys": _STR_LIST}, {}),
    "limits": ({"domain": _STR, "type": _STR, "item": _STR, "expected": _SCALAR}, {}),
}
CHECK_TYPES = tuple(CHECK_FIELDS)
NFT_FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
LIMIT_TYPES = ("hard", "soft", "-")


def _coerce(control_id: str, field: str, kind: str, value: t.Any) -> t.Any:
    def bad(expected: str) -> ControlError:
        got = type(value).__name__
        hint = " (quote yes/no/true/false in YAML)" if isinstance(value, bool) else ""
        return ControlError(control_id, field, "must be %s, got %s %r%s" % (expected, got, value, hint))

    if kind == _STR:
        if not isinstance(value, str) or not value.strip():
            raise bad("a non-empty string")
        return value
    if kind == _SCALAR:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise bad("a string or an integer")
        return str(value)
    if kind == _BOOL:
        if not isinstance(value, bool):
            raise bad("a boolean")
        return value
    if kind in (_STR_LIST, _STR_LIST_OR_EMPTY):
        if (not isinstance(value, list) or (kind == _STR_LIST and not value)
                or not all(isinstance(v, str) and v for v in value)):
            raise bad("a non-empty list of strings" if kind == _STR_LIST else "a list of strings")
        return list(value)
    if kind == _INT_LIST:  # may be empty: a role's port list can be empty for some hosts
        if (not isinstance(value, list)
                or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536 for v in value)):
            raise bad("a list of port numbers (1-65535)")
        return list(value)
    if kind == _STR_DICT:
        if (not isinstance(value, dict) or not value
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            raise bad("a non-empty mapping of strings to strings")
        return dict(value)
    raise AssertionError(kind)  # pragma: no cover


def validate_control(index: int, control: t.Any) -> t.Dict[str, t.Any]:
    """Return a normalised copy of one control or raise ControlError."""
    label = "#%d" % (index + 1)
    if not isinstance(control, dict):
        raise ControlError(label, "-", "a control must be a mapping, got %s" % type(control).__name__)
    raw_id = control.get("id")
    control_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else label
    check = control.get("check")
    if check is not None and not (isinstance(check, str) and check in CHECK_FIELDS):
        raise ControlError(control_id, "check", "unknown check type %r; one of: %s" % (check, ", ".join(CHECK_TYPES)))
    required = dict(COMMON_REQUIRED)
    optional = dict(COMMON_OPTIONAL)
    if check:
        required.update(CHECK_FIELDS[check][0])
        optional.update(CHECK_FIELDS[check][1])
    out: t.Dict[str, t.Any] = {}
    for field, kind in required.items():
        if control.get(field) is None:
            raise ControlError(control_id, field, "required for check %s" % check if check else "required")
        out[field] = _coerce(control_id, field, kind, control[field])
    for field, kind in optional.items():
        if control.get(field) is not None:
            out[field] = _coerce(control_id, field, kind, control[field])
    _validate_specific(out)
    return out


def _validate_specific(c: t.Dict[str, t.Any]) -> None:
    cid, check = c["id"], c["check"]
    if check == "sshd":
        given = [f for f in ("expected", "allowed", "required") if f in c]
        if len(given) != 1:
            raise ControlError(cid, "expected", "give exactly one of expected, allowed or required (got %s)"
                               % (", ".join(given) or "none"))
        if c["key"] != c["key"].lower() or " " in c["key"]:
            raise ControlError(cid, "key", "must be a lower-case sshd -T keyword, got %r" % c["key"])
    elif check == "file" and "mode" in c:
        if not re.fullmatch(r"0?[0-7]{3,4}", c["mode"]):
            raise ControlError(cid, "mode", "must be an octal string such as '0640', got %r" % c["mode"])
    elif check == "service" and "enabled" not in c and "active" not in c:
        raise ControlError(cid, "enabled", "give enabled, active or both")
    elif check == "nftables":
        if c["family"] not in NFT_FAMILIES:
            raise ControlError(cid, "family", "must be one of %s, got %r" % (", ".join(NFT_FAMILIES), c["family"]))
        if not any(f in c for f in ("chains", "tcp_ports", "udp_ports")):
            raise ControlError(cid, "chains", "give chains, tcp_ports or udp_ports")
    elif check == "limits" and c["type"] not in LIMIT_TYPES:
        raise ControlError(cid, "type", "must be hard, soft or -, got %r" % c["type"])
    for field in ("path", "when_present", "file"):
        if field in c and not c[field].startswith("/"):
            raise ControlError(cid, field, "must be an absolute path, got %r" % c[field])


def validate_controls(controls: t.Any) -> t.List[t.Dict[str, t.Any]]:
    if not isinstance(controls, list):
        raise ControlError("-", "controls", "must be a list")
    seen: t.Set[str] = set()
    out = []
    for index, control in enumerate(controls):
        normalised = validate_control(index, control)
        if normalised["id"] in seen:
            raise ControlError(normalised["id"], "id", "duplicate control id")
        seen.add(normalised["id"])
        out.append(normalised)
    return out


def expected_of(c: t.Dict[str, t.Any]) -> t.Any:
    """What the report shows as a control's expectation."""
    check = c["check"]
    if check == "sshd":
        for field in ("expected", "allowed", "required"):
            if field in c:
                return c[field] if field == "expected" else {field: c[field]}
    if check == "module_blocked":
        return "blocked, not loaded"
    if check == "module_loaded":
        return "loaded or built in"
    if check in ("file", "service", "nftables"):
        fields = {"file": ("mode", "owner", "group", "contains"), "service": ("enabled", "active"),
                  "nftables": ("chains", "tcp_ports", "udp_ports")}[check]
        return {f: c[f] for f in fields if f in c} or "exists"
    if check == "pam":
        return {"module": c["module"], "args": c.get("args", [])}
    if check == "audit_rules":
        return {"keys": c["keys"]}
    return c["expected"]


# --- pure parsing and evaluation ------------------------------------------------------

def normalise_ws(value: t.Any) -> str:
    return " ".join(str(value).split())


def parse_sshd_t(text: str) -> t.Dict[str, t.List[str]]:
    """``sshd -T`` output -> keyword: values (keywords repeated on several lines collect)."""
    settings: t.Dict[str, t.List[str]] = {}
    for line in text.splitlines():
        key, _sep, value = line.strip().partition(" ")
        if key:
            settings.setdefault(key.lower(), []).append(value.strip())
    return settings


# sshd -T prints some values under their legacy spelling.
SSHD_ALIASES = {"permitrootlogin": {"without-password": "prohibit-password"}}


def evaluate_sshd(c: t.Dict[str, t.Any], settings: t.Dict[str, t.List[str]]) -> Outcome:
    key = c["key"]
    values = settings.get(key)
    if "expected" in c:
        if values is None:
            return FAIL, None, "%s is not in sshd -T output" % key
        observed = " ".join(values)
        aliases = SSHD_ALIASES.get(key, {})
        want = normalise_ws(c["expected"]).lower()
        have = normalise_ws(observed).lower()
        if aliases.get(have, have) == aliases.get(want, want):
            return PASS, observed, ""
        return FAIL, observed, "%s is %s" % (key, observed)
    items = [i for v in (values or []) for i in re.split(r"[\s,]+", v) if i]
    lowered = {i.lower() for i in items}
    if "allowed" in c:
        if values is None:
            return FAIL, None, "%s is not in sshd -T output" % key
        allowed = {a.lower() for a in c["allowed"]}
        extra = [i for i in items if i.lower() not in allowed]
        return (FAIL, items, "not allowed: %s" % ", ".join(extra)) if extra else (PASS, items, "")
    missing = [r for r in c["required"] if r.lower() not in lowered]
    return (FAIL, items, "missing: %s" % ", ".join(missing)) if missing else (PASS, items, "")


def evaluate_sysctl(c: t.Dict[str, t.Any], value: str) -> Outcome:
    observed = normalise_ws(value)
    if observed == normalise_ws(c["expected"]):
        return PASS, observed, ""
    return FAIL, observed, "%s is %s" % (c["key"], observed)


def module_name(name: str) -> str:
    """The kernel's spelling of a module name (/proc/modules, /sys/module use _)."""
    return name.replace("-", "_")


BLOCK_COMMANDS = ("/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true")


def parse_proc_modules(text: str) -> t.Set[str]:
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def blocking_config(module: str, showconfig: str) -> t.Optional[str]:
    """The modprobe configuration line that blocks a module, if any (install beats blacklist)."""
    name = module_name(module)
    blacklisted = None
    for line in showconfig.splitlines():
        parts = line.split()
        if len(parts) >= 2 and module_name(parts[1]) == name:
            if parts[0] == "install" and len(parts) == 3 and parts[2] in BLOCK_COMMANDS:
                return "install %s %s" % (parts[1], parts[2])
            if parts[0] == "blacklist" and len(parts) == 2:
                blacklisted = "blacklist %s" % parts[1]
    return blacklisted


def evaluate_module_blocked(module: str, dry_run: t.Tuple[int, str, str], showconfig: t.Optional[str],
                            loaded: t.Set[str]) -> Outcome:
    """Judge ``modprobe -n -v <module>`` (rc, out, err), ``modprobe --showconfig`` and /proc/modules."""
    rc, out, err = dry_run
    loaded_now = module_name(module) in loaded
    status, observed, reason = PASS, "", ""
    if rc == 0:
        lines = [line.split() for line in out.splitlines() if line.strip()]
        blocked = next((words for words in lines if words[0] == "install" and len(words) > 1
                        and words[1] in BLOCK_COMMANDS), None)
        if blocked:
            observed = "install %s" % blocked[1]
        elif any(words[0] == "builtin" for words in lines):
            status, observed, reason = FAIL, "builtin", "built into the kernel: cannot be blocked"
        elif lines or not loaded_now:
            status, observed = FAIL, "; ".join(" ".join(words) for words in lines) or "loadable"
            reason = "modprobe would load it"
    else:
        config = blocking_config(module, showconfig or "")
        if config is None:
            message = (err or out).strip().splitlines()
            status, observed = FAIL, "not blocked"
            reason = "no install /bin/false|true or blacklist line in the modprobe configuration%s" % (
                " (modprobe -n: %s)" % message[-1].strip() if message else "")
        else:
            observed = "%s (module not found for this kernel; judged by modprobe configuration)" % config
    if loaded_now:
        return FAIL, "%s; loaded now" % (observed or "not blocked"), "loaded now" + ("; " + reason if reason else "")
    return status, observed, reason


def evaluate_file(c: t.Dict[str, t.Any], info: t.Dict[str, t.Any], content: t.Optional[str]) -> Outcome:
    """info: mode (int), owner, uid, group, gid as observed."""
    observed: t.Dict[str, t.Any] = {"mode": "%04o" % info["mode"], "owner": info["owner"], "group": info["group"]}
    problems = []
    if "mode" in c:
        allowed = int(c["mode"], 8)
        extra = info["mode"] & ~allowed
        if extra:
            problems.append("mode %04o has bits %04o beyond %04o" % (info["mode"], extra, allowed))
    for field, name_key, id_key in (("owner", "owner", "uid"), ("group", "group", "gid")):
        if field in c and c[field] not in (str(info[name_key]), str(info[id_key])):
            problems.append("%s is %s" % (field, info[name_key]))
    if "contains" in c:
        observed["contains"] = content is not None and c["contains"] in content
        if not observed["contains"]:
            problems.append("does not contain %r" % c["contains"])
    return (FAIL, observed, "; ".join(problems)) if problems else (PASS, observed, "")


# `systemctl is-enabled` exits 0 for these unit file states.
ENABLED_STATES = ("enabled", "enabled-runtime", "alias", "static", "indirect", "generated", "transient")
ACTIVE_STATES = ("active", "reloading", "refreshing", "activating")


def parse_systemctl_show(text: str) -> t.List[t.Dict[str, str]]:
    """``systemctl show -p ... unit...`` -> one property dict per unit (blocks split by blank lines)."""
    blocks: t.List[t.Dict[str, str]] = []
    current: t.Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, _sep, value = line.partition("=")
        current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def evaluate_service(c: t.Dict[str, t.Any], props: t.Dict[str, str]) -> Outcome:
    load = props.get("LoadState", "")
    file_state = props.get("UnitFileState", "") or ("masked" if load == "masked" else "")
    active_state = props.get("ActiveState", "")
    observed = {"load": load, "enabled": file_state or "-", "active": active_state}
    if load == "not-found":
        if c.get("enabled") is not True and c.get("active") is not True:
            return PASS, observed, "not installed"
        return FAIL, observed, "not installed"
    problems = []
    if "enabled" in c and (file_state in ENABLED_STATES) != c["enabled"]:
        problems.append("%s (expected %s)" % (file_state or "no unit file state", "enabled" if c["enabled"] else "disabled"))
    if "active" in c and (active_state in ACTIVE_STATES) != c["active"]:
        problems.append("%s (expected %s)" % (active_state, "active" if c["active"] else "inactive"))
    return (FAIL, observed, "; ".join(problems)) if problems else (PASS, observed, "")


def _port_ranges(right: t.Any, sets: t.Dict[str, t.List[t.Any]]) -> t.List[t.Tuple[int, int]]:
    if isinstance(right, bool):
        return []
    if isinstance(right, int):
        return [(right, right)]
    if isinstance(right, str):
        if right.startswith("@"):
            return _port_ranges(sets.get(right[1:], []), sets)
        return [(int(right), int(right))] if right.isdigit() else []
    if isinstance(right, list):
        return [r for item in right for r in _port_ranges(item, sets)]
    if isinstance(right, dict):
        if "set" in right:
            return _port_ranges(right["set"], sets)
        if "range" in right and len(right["range"]) == 2:
            low, high = right["range"]
            if isinstance(low, int) and isinstance(high, int):
                return [(low, high)]
        if "elem" in right:  # {"elem": {"val": 22, "timeout": ...}} in sets with flags
            return _port_ranges(right["elem"].get("val"), sets) if isinstance(right["elem"], dict) else []
    return []


def _l4protos(right: t.Any) -> t.Set[str]:
    if isinstance(right, str):
        return {right}
    if isinstance(right, dict) and "set" in right:
        return {v for v in right["set"] if isinstance(v, str)}
    if isinstance(right, list):
        return {v for v in right if isinstance(v, str)}
    return set()


def nft_accepted_ports(doc: t.Dict[str, t.Any]) -> t.Dict[str, t.List[t.Tuple[int, int]]]:
    """Ports in accept rules reachable from the table's input chain(s) (by hook, or named input).

    Follows jump and goto into regular chains. Matches ``tcp dport``/``udp dport`` and
    ``th dport`` with ``meta l4proto``, with ``==`` or ``in`` against a value, an
    anonymous or named set, or a range.
    """
    items = doc.get("nftables", [])
    chains = {i["chain"]["name"]: i["chain"] for i in items if "chain" in i}
    sets = {i["set"]["name"]: i["set"].get("elem", []) for i in items if "set" in i}
    rules: t.Dict[str, t.List[t.List[t.Dict[str, t.Any]]]] = {}
    for i in items:
        if "rule" in i:
            rules.setdefault(i["rule"]["chain"], []).append(i["rule"].get("expr", []))
    todo = [n for n, ch in chains.items() if ch.get("hook") == "input"] or [n for n in chains if n == "input"]
    seen: t.Set[str] = set()
    ports: t.Dict[str, t.List[t.Tuple[int, int]]] = {"tcp": [], "udp": []}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for expr in rules.get(name, []):
            accept = False
            found: t.List[t.Tuple[str, t.List[t.Tuple[int, int]]]] = []
            protos: t.Set[str] = set()
            for e in expr:
                if "accept" in e:
                    accept = True
                for verdict in ("jump", "goto"):
                    if verdict in e and isinstance(e[verdict], dict):
                        todo.append(e[verdict].get("target"))
                match = e.get("match")
                if not isinstance(match, dict) or match.get("op", "==") not in ("==", "in"):
                    continue
                left = match.get("left", {})
                if isinstance(left, dict) and isinstance(left.get("payload"), dict):
                    payload = left["payload"]
                    if payload.get("field") == "dport" and payload.get("protocol") in ("tcp", "udp", "th"):
                        found.append((payload["protocol"], _port_ranges(match.get("right"), sets)))
                elif isinstance(left, dict) and isinstance(left.get("meta"), dict) and left["meta"].get("key") == "l4proto":
                    protos |= _l4protos(match.get("right"))
            if not accept:
                continue
            for proto, ranges in found:
                for p in ([proto] if proto != "th" else sorted(protos & {"tcp", "udp"})):
                    ports[p].extend(ranges)
    return {p: sorted(set(r)) for p, r in ports.items()}


def _fmt_ranges(ranges: t.List[t.Tuple[int, int]]) -> t.List[t.Any]:
    return [low if low == high else "%d-%d" % (low, high) for low, high in ranges]


def evaluate_nftables(c: t.Dict[str, t.Any], doc: t.Dict[str, t.Any]) -> Outcome:
    items = doc.get("nftables", [])
    chains = {i["chain"]["name"]: i["chain"] for i in items if "chain" in i}
    observed: t.Dict[str, t.Any] = {"chains": {n: ch.get("policy") for n, ch in chains.items() if "hook" in ch}}
    problems = []
    for name, policy in c.get("chains", {}).items():
        if name not in chains:
            problems.append("chain %s missing" % name)
        elif str(chains[name].get("policy")).lower() != policy.lower():
            problems.append("chain %s policy %s" % (name, chains[name].get("policy") or "none (not a base chain)"))
    accepted = nft_accepted_ports(doc)
    for proto in ("tcp", "udp"):
        wanted = c.get("%s_ports" % proto)
        if wanted is None:
            continue
        observed["%s_ports" % proto] = _fmt_ranges(accepted[proto])
        missing = [p for p in wanted if not any(low <= p <= high for low, high in accepted[proto])]
        if missing:
            problems.append("%s ports not accepted on input: %s" % (proto, ", ".join(map(str, missing))))
    return (FAIL, observed, "; ".join(problems)) if problems else (PASS, observed, "")


_KV = re.compile(r"^([^=\s]+)\s*(?:=\s*|\s+)(.*)$")


def config_values(text: str, key: str, section: t.Optional[str] = None,
                  separator: t.Optional[str] = None) -> t.List[str]:
    """Every value of key in a config text, in order (``#``/``;`` comments, optional [section])."""
    values = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if section is not None and current != section:
            continue
        if separator:
            if separator not in line:
                continue
            name, _sep, value = line.partition(separator)
        else:
            found = _KV.match(line)
            if not found:
                continue
            name, value = found.groups()
        if name.strip() == key:
            values.append(value.strip())
    return values


def evaluate_config(c: t.Dict[str, t.Any], files: t.List[t.Tuple[str, str]]) -> Outcome:
    """files: (path, text) in reading order; the last value wins."""
    last = None
    for path, text in files:
        values = config_values(text, c["key"], c.get("section"), c.get("separator"))
        if values:
            last = (path, values[-1])
    where = "[%s] " % c["section"] if c.get("section") else ""
    if last is None:
        return FAIL, None, "%s%s not set" % (where, c["key"])
    if normalise_ws(last[1]) == normalise_ws(c["expected"]):
        return PASS, last[1], ""
    return FAIL, last[1], "%s%s is %s in %s" % (where, c["key"], last[1], last[0])


def evaluate_systemd_config(c: t.Dict[str, t.Any], text: str) -> Outcome:
    """``systemd-analyze cat-config`` output: the files concatenated, each after a ``# /path`` line."""
    last = None
    source = "?"
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("# /"):
            source = line[2:]
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        name, sep, value = line.partition("=")
        if sep and current == c["section"] and name.strip() == c["key"]:
            last = (source, value.strip())
    if last is None:
        return FAIL, None, "[%s] %s not set (the built-in default applies)" % (c["section"], c["key"])
    if normalise_ws(last[1]) == normalise_ws(c["expected"]):
        return PASS, last[1], ""
    return FAIL, last[1], "[%s] %s is %s in %s" % (c["section"], c["key"], last[1], last[0])


_APT_LINE = re.compile(r'^(\S+) "(.*)";$')


def parse_apt_dump(text: str) -> t.Dict[str, str]:
    """``apt-config dump`` -> key (lower-case, as APT compares them) -> value."""
    values = {}
    for line in text.splitlines():
        found = _APT_LINE.match(line.strip())
        if found:
            values[found.group(1).lower()] = found.group(2).replace('\\"', '"')
    return values


def evaluate_apt_config(c: t.Dict[str, t.Any], values: t.Dict[str, str]) -> Outcome:
    observed = values.get(c["key"].lower())
    if observed is None:
        return FAIL, None, "%s not set" % c["key"]
    if normalise_ws(observed) == normalise_ws(c["expected"]):
        return PASS, observed, ""
    return FAIL, observed, "%s is %s" % (c["key"], observed)


def parse_pam_line(line: str) -> t.Optional[t.Dict[str, str]]:
    """One pam.d line -> type, control, module, args (None for blanks and comments)."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if line.startswith("@include"):
        return {"type": "@include", "control": "include", "module": line[len("@include"):].strip(), "args": ""}
    parts = line.split(None, 1)
    if len(parts) < 2:
        return None
    kind, rest = parts[0], parts[1].lstrip()
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            return None
        control, rest = rest[:end + 1], rest[end + 1:].strip()
    else:
        words = rest.split(None, 1)
        control, rest = words[0], (words[1] if len(words) > 1 else "")
    words = rest.split(None, 1)
    if not words:
        return None
    return {"type": kind.lstrip("-"), "control": control, "module": words[0],
            "args": words[1].strip() if len(words) > 1 else ""}


def evaluate_pam(c: t.Dict[str, t.Any], entries: t.List[t.Tuple[str, str, t.Dict[str, str]]]) -> Outcome:
    """entries: (file, raw line, parsed) with includes already expanded."""
    want = os.path.basename(c["module"])
    lines = [(f, raw, e) for f, raw, e in entries if os.path.basename(e["module"]) == want]
    observed = ["%s: %s" % (f, " ".join(raw.split())) for f, raw, e in lines]
    if not lines:
        return FAIL, observed, "%s not used" % want
    args = c.get("args", [])
    if any(all(a in e["args"] for a in args) for f, raw, e in lines):
        return PASS, observed, ""
    return FAIL, observed, "no %s line with %s" % (want, " ".join(args))


_AUDIT_KEY = re.compile(r"(?:^|\s)(?:-k\s+|-F\s+key=|key=)(\S+)")


def parse_audit_keys(text: str) -> t.List[str]:
    keys = set()
    for line in text.splitlines():
        for found in _AUDIT_KEY.finditer(line):
            keys.add(found.group(1).strip('"'))
    return sorted(keys)


def evaluate_audit_rules(c: t.Dict[str, t.Any], keys: t.List[str]) -> Outcome:
    missing = [k for k in c["keys"] if k not in keys]
    observed = [k for k in c["keys"] if k in keys]
    if missing:
        return FAIL, observed, "no loaded rule with key: %s" % ", ".join(missing)
    return PASS, observed, ""


def evaluate_limits(c: t.Dict[str, t.Any], files: t.List[t.Tuple[str, str]]) -> Outcome:
    """pam_limits files in reading order; the last matching line for the domain wins."""
    found: t.Dict[str, t.Optional[str]] = {"soft": None, "hard": None}
    for _path, text in files:
        for raw in text.splitlines():
            parts = raw.split("#", 1)[0].split()
            if len(parts) != 4 or parts[0] != c["domain"] or parts[2] != c["item"]:
                continue
            for kind in ("soft", "hard"):
                if parts[1] in (kind, "-"):
                    found[kind] = parts[3]
    kinds = ("soft", "hard") if c["type"] == "-" else (c["type"],)
    observed: t.Any = {k: found[k] for k in kinds} if c["type"] == "-" else found[c["type"]]
    wrong = ["%s %s" % (k, found[k] if found[k] is not None else "not set") for k in kinds if found[k] != c["expected"]]
    if wrong:
        return FAIL, observed, "%s %s: %s" % (c["domain"], c["item"], ", ".join(wrong))
    return PASS, observed, ""


# --- the collector ------------------------------------------------------------------

CONTAINER_MARKERS = ("run/.containerenv", ".dockerenv")


class Host:
    """Observes a host, once per thing. Files under ``root``; commands through ``run``."""

    def __init__(self, run: Runner, which: Which, root: str = "/"):
        self._run = run
        self._which = which
        self.root = root
        self._cache: t.Dict[t.Any, t.Tuple[bool, t.Any]] = {}
        self.commands: t.List[t.List[str]] = []  # what ran, for tests and debugging
        self.service_units: t.List[str] = []  # every unit the service controls name (one systemctl call)

    def path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.path(path))

    def _once(self, key: t.Any, fn: t.Callable[[], t.Any]) -> t.Any:
        if key not in self._cache:
            try:
                self._cache[key] = (True, fn())
            except Unobservable as exc:
                self._cache[key] = (False, exc)
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    def run(self, argv: t.List[str]) -> t.Tuple[int, str, str]:
        self.commands.append(list(argv))
        return self._run(argv)

    def binary(self, name: str, missing_status: str = FAIL, hint: str = "") -> str:
        found = self._which(name)
        if not found:
            raise Unobservable(missing_status, "%s not found%s" % (name, hint))
        return found

    def read(self, path: str) -> t.Optional[str]:
        """A file's text (None when missing); cached."""
        def read() -> t.Optional[str]:
            try:
                with open(self.path(path), "rb") as handle:
                    return handle.read().decode("utf-8", errors="replace")
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise Unobservable(FAIL, "cannot read %s: %s" % (path, exc.strerror or exc))
        return self._once(("read", path), read)

    def is_container(self) -> bool:
        if any(self.exists(m) for m in CONTAINER_MARKERS):
            return True
        try:
            with open(self.path("/proc/1/environ"), "rb") as handle:
                return any(v.startswith(b"container=") for v in handle.read().split(b"\0"))
        except OSError:
            return False

    # one observation per check type

    def sshd_settings(self) -> t.Dict[str, t.List[str]]:
        def observe() -> t.Dict[str, t.List[str]]:
            sshd = self.binary("sshd", NOT_APPLICABLE, " (OpenSSH server not installed)")
            rc, out, err = self.run([sshd, "-T"])
            if rc != 0:
                raise Unobservable(FAIL, "sshd -T failed: %s" % _first_line(err or out))
            return parse_sshd_t(out)
        return self._once("sshd", observe)

    def sysctl(self, key: str) -> str:
        proc = "/proc/sys/" + (key if "/" in key else key.replace(".", "/"))
        value = self.read(proc)
        if value is None:
            raise Unobservable(NOT_APPLICABLE, "not in this kernel")
        return value

    def loaded_modules(self) -> t.Set[str]:
        return parse_proc_modules(self.read("/proc/modules") or "")

    def module_blocked(self, module: str) -> Outcome:
        modprobe = self.binary("modprobe", FAIL, " (kmod not installed)")
        dry = self._once(("modprobe-n", module), lambda: self.run([modprobe, "-n", "-v", module]))
        showconfig = None
        if dry[0] != 0:
            showconfig = self._once("showconfig", lambda: self._showconfig(modprobe))
        return evaluate_module_blocked(module, dry, showconfig, self.loaded_modules())

    def _showconfig(self, modprobe: str) -> str:
        rc, out, err = self.run([modprobe, "--showconfig"])
        if rc != 0:
            raise Unobservable(FAIL, "modprobe --showconfig failed: %s" % _first_line(err or out))
        return out

    def stat(self, path: str) -> t.Dict[str, t.Any]:
        try:
            st = os.stat(self.path(path))
        except FileNotFoundError:
            raise Unobservable(FAIL, "%s missing" % path)
        except OSError as exc:
            raise Unobservable(FAIL, "cannot stat %s: %s" % (path, exc.strerror or exc))
        return {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                "owner": _user(st.st_uid), "group": _group(st.st_gid)}

    def services(self, units: t.List[str]) -> t.Dict[str, t.Any]:
        """Unit -> properties (or Unobservable) for all units, in one systemctl call."""
        def observe() -> t.Dict[str, t.Any]:
            systemctl = self.binary("systemctl")
            argv = [systemctl, "show", "-p", "LoadState,ActiveState,UnitFileState", "--"]
            rc, out, err = self.run(argv + units)
            blocks = parse_systemctl_show(out)
            if rc == 0 and len(blocks) == len(units):
                return dict(zip(units, blocks))
            result: t.Dict[str, t.Any] = {}
            for unit in units:  # isolate the unit systemctl refused
                rc, out, err = self.run(argv + [unit])
                blocks = parse_systemctl_show(out)
                result[unit] = blocks[0] if rc == 0 and len(blocks) == 1 else Unobservable(
                    FAIL, "systemctl show failed: %s" % _first_line(err or out))
            return result
        return self._once(("services", tuple(units)), observe)

    def nft_table(self, family: str, table: str) -> t.Dict[str, t.Any]:
        def observe() -> t.Dict[str, t.Any]:
            nft = self.binary("nft", FAIL, " (nftables not installed)")
            rc, out, err = self.run([nft, "-j", "list", "table", family, table])
            if rc != 0:
                if "No such file or directory" in err:
                    raise Unobservable(FAIL, "table %s %s not found" % (family, table))
                raise Unobservable(FAIL, "nft failed: %s" % _first_line(err or out))
            try:
                return json.loads(out)
            except ValueError as exc:
                raise Unobservable(FAIL, "nft -j output is not JSON: %s" % exc)
        return self._once(("nft", family, table), observe)

    def config_files(self, path: str, include: t.Optional[str]) -> t.List[t.Tuple[str, str]]:
        text = self.read(path)
        if text is None:
            raise Unobservable(FAIL, "%s missing" % path)
        files = [(path, text)]
        if include:
            for found in sorted(glob.glob(self.path(include))):
                name = "/" + os.path.relpath(found, self.root) if self.root != "/" else found
                if os.path.isfile(found):
                    files.append((name, self.read(name) or ""))
        return files

    def cat_config(self, config: str) -> str:
        def observe() -> str:
            analyze = self.binary("systemd-analyze", FAIL, " (not a systemd host)")
            rc, out, err = self.run([analyze, "cat-config", config])
            if rc != 0:
                raise Unobservable(FAIL, "systemd-analyze cat-config %s failed: %s" % (config, _first_line(err or out)))
            return out
        return self._once(("cat-config", config), observe)

    def apt_config(self) -> t.Dict[str, str]:
        def observe() -> t.Dict[str, str]:
            apt_config = self.binary("apt-config", NOT_APPLICABLE, " (not an APT system)")
            rc, out, err = self.run([apt_config, "dump"])
            if rc != 0:
                raise Unobservable(FAIL, "apt-config dump failed: %s" % _first_line(err or out))
            return parse_apt_dump(out)
        return self._once("apt-config", observe)

    def pam_entries(self, path: str, depth: int = 0) -> t.List[t.Tuple[str, str, t.Dict[str, str]]]:
        text = self.read(path)
        if text is None:
            raise Unobservable(FAIL, "%s missing" % path)
        entries = []
        for raw in text.splitlines():
            entry = parse_pam_line(raw)
            if entry is None:
                continue
            if entry["control"] in ("include", "substack") and depth < 8:
                target = entry["module"]
                target = target if target.startswith("/") else os.path.join(os.path.dirname(path), target)
                try:
                    entries.extend(self.pam_entries(target, depth + 1))
                except Unobservable:
                    pass  # PAM skips a missing include too
                continue
            entries.append((path, raw, entry))
        return entries

    def audit_keys(self) -> t.List[str]:
        def observe() -> t.List[str]:
            auditctl = self.binary("auditctl", FAIL, " (auditd not installed)")
            rc, out, err = self.run([auditctl, "-l"])
            if rc != 0:
                raise Unobservable(FAIL, "auditctl -l: %s" % _first_line(err or out))
            return parse_audit_keys(out)
        return self._once("auditctl", observe)

    def limits_files(self) -> t.List[t.Tuple[str, str]]:
        def observe() -> t.List[t.Tuple[str, str]]:
            files = []
            main = self.read("/etc/security/limits.conf")
            if main is not None:
                files.append(("/etc/security/limits.conf", main))
            for found in sorted(glob.glob(self.path("/etc/security/limits.d/*.conf"))):
                name = "/etc/security/limits.d/" + os.path.basename(found)
                files.append((name, self.read(name) or ""))
            return files
        return self._once("limits", observe)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def observe_and_evaluate(c: t.Dict[str, t.Any], host: Host) -> Outcome:
    """Run one (validated) control against the host; Unobservable propagates."""
    check = c["check"]
    if check == "sshd":
        return evaluate_sshd(c, host.sshd_settings())
    if check == "sysctl":
        return evaluate_sysctl(c, host.sysctl(c["key"]))
    if check == "module_blocked":
        return host.module_blocked(c["module"])
    if check == "module_loaded":
        present = host.exists("/sys/module/" + module_name(c["module"]))
        return (PASS, "loaded or built in", "") if present else (FAIL, "absent", "not loaded and not built in")
    if check == "file":
        info = host.stat(c["path"])
        return evaluate_file(c, info, host.read(c["path"]) if "contains" in c else None)
    if check == "service":
        props = host.services(host.service_units)[c["name"]]
        if isinstance(props, Unobservable):
            raise props
        return evaluate_service(c, props)
    if check == "nftables":
        return evaluate_nftables(c, host.nft_table(c["family"], c["table"]))
    if check == "config":
        return evaluate_config(c, host.config_files(c["path"], c.get("include")))
    if check == "systemd_config":
        return evaluate_systemd_config(c, host.cat_config(c["config"]))
    if check == "apt_config":
        return evaluate_apt_config(c, host.apt_config())
    if check == "pam":
        return evaluate_pam(c, host.pam_entries(c["file"]))
    if check == "audit_rules":
        return evaluate_audit_rules(c, host.audit_keys())
    if check == "limits":
        return evaluate_limits(c, host.limits_files())
    raise AssertionError(check)  # pragma: no cover  (validated before)


def audit(controls: t.Any, host: Host, container: t.Optional[bool] = None) -> t.Dict[str, t.Any]:
    """Validate all controls first (nothing is observed for bad input), then evaluate them in order."""
    checked = validate_controls(controls)
    if container is None:
        container = host.is_container()
    host.service_units = list(dict.fromkeys(c["name"] for c in checked if c["check"] == "service"))
    results = []
    for c in checked:
        if "when_present" in c and not host.exists(c["when_present"]):
            status, observed, reason = NOT_APPLICABLE, None, "%s not present" % c["when_present"]
        else:
            try:
                status, observed, reason = observe_and_evaluate(c, host)
            except Unobservable as exc:
                status, observed, reason = exc.status, exc.observed, exc.reason
            if container and "waive_in_container" in c and status in (PASS, FAIL):
                if observed is None and status == FAIL:
                    observed = reason  # what could not be observed, e.g. auditctl refused in a container
                status, reason = WAIVED, c["waive_in_container"]
        results.append({"id": c["id"], "area": c["area"], "title": c["title"], "status": status,
                        "expected": expected_of(c), "observed": observed, "reason": reason})
    summary = {s: sum(1 for r in results if r["status"] == s) for s in STATUSES}
    return {"container": bool(container), "summary": summary,
            "failed_ids": [r["id"] for r in results if r["status"] == FAIL], "controls": results}
