# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evaluators of the hardening audit: pure functions from what a host shows to a verdict.

Each ``parse_*`` turns one command's output or one file's text (``sshd -T``, ``nft -j``,
``systemctl show``, ``apt-config dump``, ``auditctl -l``, a PAM stack...) into data, and each
``evaluate_*`` judges one validated control against that data and returns ``(status, observed,
reason)``. Nothing here reads the host (that is :mod:`hardening_observer`), so every function is
tested on real command outputs. Nothing here imports Ansible.
"""

from __future__ import annotations

import fnmatch
import os
import re
import typing as t

PASS = "pass"
FAIL = "fail"
WAIVED = "waived"
NOT_APPLICABLE = "not_applicable"
STATUSES = (PASS, FAIL, WAIVED, NOT_APPLICABLE)

Outcome = t.Tuple[str, t.Any, str]  # (status, observed, reason)


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
    if "lines" in c:
        present = {line.strip() for line in (content or "").splitlines()}
        missing = [line for line in c["lines"] if line.strip() not in present]
        observed["lines_missing"] = missing
        if missing:
            problems.append("lines missing: %s" % ", ".join(missing))
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


# what a passing control that wants a unit off observed: not installed, or installed, disabled and stopped
OFF = {"enabled": False, "active": False}


def evaluate_service(c: t.Dict[str, t.Any], props: t.Dict[str, str]) -> Outcome:
    load = props.get("LoadState", "")
    file_state = props.get("UnitFileState", "") or ("masked" if load == "masked" else "")
    active_state = props.get("ActiveState", "")
    observed = {"load": load, "enabled": file_state or "-", "active": active_state}
    wants_off = c.get("enabled") is not True and c.get("active") is not True
    if load == "not-found":
        # off, however it got so: the same outcome as an installed unit that is off, so that a later
        # stage installing the package (and leaving it off) does not change the report on a re-run
        return (PASS, OFF, "") if wants_off else (FAIL, observed, "not installed")
    problems = []
    if "enabled" in c and (file_state in ENABLED_STATES) != c["enabled"]:
        problems.append("%s (expected %s)" % (file_state or "no unit file state", "enabled" if c["enabled"] else "disabled"))
    if "active" in c and (active_state in ACTIVE_STATES) != c["active"]:
        problems.append("%s (expected %s)" % (active_state, "active" if c["active"] else "inactive"))
    if problems:
        return FAIL, observed, "; ".join(problems)
    return PASS, OFF if wants_off else observed, ""


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


def _limit_text(limit: t.Dict[str, t.Any]) -> str:
    return "%s/%s burst %s" % (limit.get("rate"), limit.get("per"), limit.get("burst", 0))


def nft_rate_limits(doc: t.Dict[str, t.Any]) -> t.Dict[int, str]:
    """TCP ports whose new connections the input chain drops over a per-source rate.

    A rule counts when it matches ``tcp dport`` (a port, set or range), adds the source address to a
    dynamic set (or meter) with an ``limit rate over`` statement, and drops or rejects: nft's
    ``tcp dport 22 ct state new add @set { ip saddr limit rate over 10/minute burst 20 packets } drop``.
    Returns port -> "rate/per burst N" for the single ports it covers.
    """
    items = doc.get("nftables", [])
    sets = {i["set"]["name"]: i["set"].get("elem", []) for i in items if "set" in i}
    inputs = {i["chain"]["name"] for i in items if "chain" in i and i["chain"].get("hook") == "input"}
    found: t.Dict[int, str] = {}
    for item in items:
        rule = item.get("rule")
        if not rule or rule.get("chain") not in inputs:
            continue
        expr = rule.get("expr", [])
        ranges: t.List[t.Tuple[int, int]] = []
        limit = None
        verdict = any(("drop" in e or "reject" in e) for e in expr)
        for e in expr:
            match = e.get("match")
            if isinstance(match, dict) and isinstance(match.get("left"), dict):
                payload = match["left"].get("payload")
                if isinstance(payload, dict) and payload.get("protocol") == "tcp" and payload.get("field") == "dport":
                    ranges += _port_ranges(match.get("right"), sets)
            for key in ("set", "meter"):
                statement = e.get(key)
                if isinstance(statement, dict):
                    for inner in statement.get("stmt", []) or []:
                        if isinstance(inner, dict) and isinstance(inner.get("limit"), dict) and inner["limit"].get("inv"):
                            limit = inner["limit"]
        if verdict and limit and ranges:
            for low, high in ranges:
                for port in range(low, min(high, low + 64) + 1):
                    found.setdefault(port, _limit_text(limit))
    return found


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
    if "rate_limited" in c:
        limits = nft_rate_limits(doc)
        observed["rate_limited"] = {str(p): limits[p] for p in c["rate_limited"] if p in limits}
        unlimited = [p for p in c["rate_limited"] if p not in limits]
        if unlimited:
            problems.append("no per-source rate limit on new tcp connections to: %s" % ", ".join(map(str, unlimited)))
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


# --- the host's identity --------------------------------------------------------------

def parse_os_release(text: str) -> t.Dict[str, str]:
    """``/etc/os-release`` -> key: value (quotes removed)."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key] = value.strip().strip('"').strip("'")
    return values


# os-release ID / ID_LIKE words -> the OS family Ansible reports
OS_FAMILY_OF_ID = {"debian": "Debian", "ubuntu": "Debian", "raspbian": "Debian", "rhel": "RedHat", "fedora": "RedHat",
                   "centos": "RedHat", "rocky": "RedHat", "almalinux": "RedHat"}


def os_family_of(os_release: t.Dict[str, str]) -> t.Optional[str]:
    for word in [os_release.get("ID", "")] + os_release.get("ID_LIKE", "").split():
        if word.lower() in OS_FAMILY_OF_ID:
            return OS_FAMILY_OF_ID[word.lower()]
    return None


def parse_proc_mounts(text: str) -> t.List[str]:
    """Filesystem types in ``/proc/mounts``, each once, in order."""
    return list(dict.fromkeys(line.split()[2] for line in text.splitlines() if len(line.split()) >= 3))


# --- packages ---------------------------------------------------------------------------

_DPKG_VERIFY = re.compile(r"^(\S+)\s+(?:(c)\s+)?(/.*)$")


def parse_dpkg_verify(text: str) -> t.List[t.Dict[str, t.Any]]:
    """``dpkg --verify`` -> one entry per file: its flags (``??5??????`` or ``missing``), conffile or not, path."""
    entries = []
    for line in text.splitlines():
        found = _DPKG_VERIFY.match(line.rstrip())
        if found:
            entries.append({"flags": found.group(1), "conffile": bool(found.group(2)), "path": found.group(3)})
    return entries


def parse_dpkg_filters(text: str) -> t.List[t.Tuple[str, str]]:
    """``path-exclude``/``path-include`` lines of dpkg's configuration, in order."""
    filters = []
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("path-exclude", "path-include"):
            filters.append((words[0][len("path-"):], words[1]))
    return filters


def dpkg_excluded(path: str, filters: t.List[t.Tuple[str, str]]) -> bool:
    """Whether dpkg left a path out on purpose: the last matching filter decides (fnmatch, ``*`` crossing ``/``)."""
    excluded = False
    for kind, pattern in filters:
        if fnmatch.fnmatchcase(path, pattern):
            excluded = kind == "exclude"
    return excluded


def evaluate_package_files(c: t.Dict[str, t.Any], entries: t.List[t.Dict[str, t.Any]],
                           filters: t.List[t.Tuple[str, str]]) -> Outcome:
    """Installed package files against the package database: a changed checksum or a missing file fails,
    except configuration files (the admin's, and the audit's config controls judge them) and paths the
    dpkg configuration excludes (slim images drop documentation)."""
    problems = []
    for entry in entries:
        if entry["conffile"]:
            continue
        if entry["flags"] == "missing":
            if not dpkg_excluded(entry["path"], filters):
                problems.append("missing %s" % entry["path"])
        elif len(entry["flags"]) > 2 and entry["flags"][2] == "5":
            problems.append("changed %s" % entry["path"])
    if problems:
        shown = problems[:10] + (["... %d more" % (len(problems) - 10)] if len(problems) > 10 else [])
        return FAIL, shown, "%d package file(s) differ from the package database" % len(problems)
    # no count in the observation: it grows with every package a later stage installs, and the report
    # (written on the controller) would then change on a run that changes nothing on the host
    return PASS, "no package file differs", ""


# --- APT sources --------------------------------------------------------------------------

def parse_apt_policy(text: str) -> t.List[t.Dict[str, str]]:
    """The ``release`` lines of ``apt-cache policy`` (no package): one dict per archive APT knows
    (``v``, ``o``, ``a``, ``n``, ``l``, ``c``, ``b`` as APT prints them)."""
    releases = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("release "):
            fields = {}
            for part in line[len("release "):].split(","):
                key, sep, value = part.partition("=")
                if sep:
                    fields[key.strip()] = value.strip()
            releases.append(fields)
    return releases


def evaluate_apt_policy(c: t.Dict[str, t.Any], releases: t.List[t.Dict[str, str]]) -> Outcome:
    suffix = c["suite_suffix"]
    matching = ["%s (%s)" % (r.get("n") or r.get("a"), r.get("l", "?")) for r in releases
                if (r.get("n") or "").endswith(suffix) or (r.get("a") or "").endswith(suffix)]
    if matching:
        return PASS, sorted(set(matching)), ""
    known = sorted({r.get("n") or r.get("a") or "?" for r in releases if r.get("a") != "now"})
    return FAIL, known, "no archive with a suite ending in %s in APT's indexes (apt-cache policy)" % suffix


def parse_apt_sources(text: str, deb822: bool) -> t.List[str]:
    """The suites of one APT sources file (one-line ``deb [options] URI suite components`` or deb822
    ``Suites:`` stanzas), disabled entries left out."""
    suites: t.List[str] = []
    if not deb822:
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] in ("deb", "deb-src"):
                suites.append(words[2])
        return suites
    for stanza in re.split(r"\n\s*\n", text):
        fields: t.Dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            key, sep, value = line.partition(":")
            if sep and not line[0].isspace():
                fields[key.strip().lower()] = value.strip()
        if fields.get("enabled", "yes").lower() != "no" and "suites" in fields:
            suites += fields["suites"].split()
    return suites
