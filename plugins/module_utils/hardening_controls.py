# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardening controls: their schema, and the os_hardening catalogue as data.

* :func:`validate_controls` checks control dicts (an error names the control id and the field) and
  returns them normalised; the audit validates every control before it observes anything.
* The catalogue (``SSH``, ``CATALOGUE`` and the families of one control per kernel parameter, module,
  file or unit) says, for every control id of the role, what it checks and where its expected value
  comes from: a literal, a setting (:class:`S`) or a derivation of :mod:`hardening_policy`.
  :func:`controls_for` turns it into the controls of one host; :func:`sshd_config` gives the lines
  the SSH controls expect, which the role writes. Nothing here reads a host or imports Ansible.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils import hardening_policy as policy


class ControlError(ValueError):
    """A control dict is invalid; names the control and the field."""

    def __init__(self, control_id: str, field: str, problem: str):
        self.control_id = control_id
        self.field = field
        super().__init__("control %s: field '%s': %s" % (control_id, field, problem))


# --- the control schema ---------------------------------------------------------

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
    "file": ({"path": _STR}, {"mode": _STR, "owner": _SCALAR, "group": _SCALAR, "contains": _STR, "lines": _STR_LIST}),
    "service": ({"name": _STR}, {"enabled": _BOOL, "active": _BOOL}),
    "nftables": ({"family": _STR, "table": _STR},
                 {"chains": _STR_DICT, "tcp_ports": _INT_LIST, "udp_ports": _INT_LIST, "rate_limited": _INT_LIST}),
    "config": ({"path": _STR, "key": _STR, "expected": _SCALAR}, {"include": _STR, "separator": _STR, "section": _STR}),
    "systemd_config": ({"config": _STR, "section": _STR, "key": _STR, "expected": _SCALAR}, {}),
    "apt_config": ({"key": _STR, "expected": _SCALAR}, {}),
    "pam": ({"file": _STR, "module": _STR}, {"args": _STR_LIST_OR_EMPTY}),
    "audit_rules": ({"keys": _STR_LIST}, {}),
    "limits": ({"domain": _STR, "type": _STR, "item": _STR, "expected": _SCALAR}, {}),
    "package_files": ({}, {}),
    "apt_policy": ({"suite_suffix": _STR}, {}),
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
        if not any(f in c for f in ("chains", "tcp_ports", "udp_ports", "rate_limited")):
            raise ControlError(cid, "chains", "give chains, tcp_ports, udp_ports or rate_limited")
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
        fields = {"file": ("mode", "owner", "group", "contains", "lines"), "service": ("enabled", "active"),
                  "nftables": ("chains", "tcp_ports", "udp_ports", "rate_limited")}[check]
        return {f: c[f] for f in fields if f in c} or "exists"
    if check == "pam":
        return {"module": c["module"], "args": c.get("args", [])}
    if check == "audit_rules":
        return {"keys": c["keys"]}
    if check == "package_files":
        return "as the package database says (configuration files aside)"
    if check == "apt_policy":
        return {"suite_suffix": c["suite_suffix"]}
    return c["expected"]


# --- the catalogue -------------------------------------------------------------------

class S:
    """A value taken from the settings."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return "S(%r)" % self.name


class YesNo(S):
    """A boolean setting written and expected as yes or no."""


class Context:
    """What a host adds to the settings: its OS family, whether it is a container, the filesystems mounted."""

    def __init__(self, os_family: str, container: bool, mounted_fstypes: t.Iterable[str] = ()):
        self.os_family = os_family
        self.container = container
        self.mounted_fstypes = list(mounted_fstypes)
        self.os = policy.os_names(os_family)


KERNEL_WAIVER = "kernel-global: a container shares the host's kernel"

# The SSH daemon: id, title, sshd_config keyword, the value written (a literal or a setting) and how
# the audit compares the keyword (lower-cased) in `sshd -T`: expected (equal), allowed (every item
# observed is in the list), required (every item of the list is observed), root (PermitRootLogin,
# whose prohibit-password sshd -T prints as without-password). A list value that is empty is
# neither written nor audited.
SSH = (
    ("SSH-01", "password authentication off", "PasswordAuthentication", "no", "expected"),
    ("SSH-02", "root logs in with a key only", "PermitRootLogin", S("ssh_permit_root_login"), "root"),
    ("SSH-03", "modern ciphers only", "Ciphers", S("ssh_ciphers"), "allowed"),
    ("SSH-04", "modern MACs only", "MACs", S("ssh_macs"), "allowed"),
    ("SSH-05", "modern key exchange only", "KexAlgorithms", S("ssh_kex"), "allowed"),
    ("SSH-06", "authentication attempts limited", "MaxAuthTries", S("ssh_max_auth_tries"), "expected"),
    ("SSH-07", "login grace time limited", "LoginGraceTime", S("ssh_login_grace_time"), "expected"),
    ("SSH-08", "idle sessions probed", "ClientAliveInterval", S("ssh_client_alive_interval"), "expected"),
    ("SSH-09", "idle sessions end", "ClientAliveCountMax", S("ssh_client_alive_count_max"), "expected"),
    ("SSH-10", "logins limited to groups", "AllowGroups", S("ssh_allow_groups"), "required"),
    ("SSH-11", "X11 forwarding off", "X11Forwarding", "no", "expected"),
    ("SSH-12", "keyboard-interactive authentication off", "KbdInteractiveAuthentication", "no", "expected"),
    ("SSH-13", "empty passwords refused", "PermitEmptyPasswords", "no", "expected"),
    ("SSH-14", "TCP forwarding off unless a setting needs it", "AllowTcpForwarding", YesNo("ssh_allow_tcp_forwarding"),
     "expected"),
    ("SSH-15", "agent forwarding off unless a setting needs it", "AllowAgentForwarding",
     YesNo("ssh_allow_agent_forwarding"), "expected"),
    ("SSH-16", "sessions per connection limited", "MaxSessions", S("ssh_max_sessions"), "expected"),
    ("SSH-17", "logins logged with the key that was used", "LogLevel", S("ssh_log_level"), "expected"),
    ("SSH-18", "TCP keepalive off (idle sessions are probed inside the encrypted channel)", "TCPKeepAlive",
     YesNo("ssh_tcp_keepalive"), "expected"),
    ("SSH-19", "compression off", "Compression", YesNo("ssh_compression"), "expected"),
    ("SSH-20", "tunnel devices refused", "PermitTunnel", "no", "expected"),
    ("SSH-21", "user environment files ignored", "PermitUserEnvironment", "no", "expected"),
)
# /etc/login.defs: control id, key (its value comes from hardening_policy.login_defs), title.
LOGIN_DEFS = (
    ("LDEF-01", "PASS_MAX_DAYS", "new accounts' passwords expire"),
    ("LDEF-02", "PASS_MIN_DAYS", "new accounts' passwords are not changed back at once"),
    ("LDEF-03", "PASS_WARN_AGE", "expiry announced in advance"),
    ("LDEF-04", "UMASK", "default umask"),
    ("LDEF-05", "ENCRYPT_METHOD", "password hashing method"),
    ("LDEF-06", "YESCRYPT_COST_FACTOR", "yescrypt cost"),
    ("LDEF-07", "SHA_CRYPT_MIN_ROUNDS", "SHA-crypt rounds (least)"),
    ("LDEF-08", "SHA_CRYPT_MAX_ROUNDS", "SHA-crypt rounds (most)"),
)
# Algorithm lists: only what the installed OpenSSH supports is written (sshd -t refuses the others).
SSH_ALGORITHMS = {"Ciphers": "cipher", "MACs": "mac", "KexAlgorithms": "kex"}
BANNER_FILE = "/etc/issue.net"
AUDIT_KEYS = ["edgefleet_identity", "edgefleet_privilege", "edgefleet_sshd", "edgefleet_time", "edgefleet_modules",
              "edgefleet_mounts", "edgefleet_logins"]

Value = t.Callable[[t.Dict[str, t.Any], Context], t.Any]

# One control each: area, id, title, check, fields (literals, settings or functions of the settings
# and the host context), and the condition beyond its area being enabled.
CATALOGUE: t.Tuple[t.Tuple[str, str, str, str, t.Dict[str, t.Any], t.Optional[Value]], ...] = (
    ("banner", "BAN-01", "login banner", "file",
     {"path": BANNER_FILE, "contains": lambda s, h: s["banner_text"].strip()}, None),
    ("banner", "BAN-02", "SSH shows the banner", "sshd", {"key": "banner", "expected": BANNER_FILE},
     lambda s, h: s["ssh_enabled"]),
    ("firewall", "FW-01", "inbound and forwarded traffic denied unless allowed", "nftables",
     {"family": "inet", "table": "edgefleet", "chains": {"input": "drop", "forward": "drop"},
      "tcp_ports": lambda s, h: policy.open_ports(s)["tcp"], "udp_ports": lambda s, h: policy.open_ports(s)["udp"]},
     None),
    ("firewall", "FW-02", "SSH only from the management networks", "file",
     {"path": policy.FIREWALL_FILE, "contains": lambda s, h: "ip saddr @management4 tcp dport %d" % s["ssh_port"]}, None),
    ("firewall", "FW-03", "firewall loaded at boot", "service",
     {"name": "edgefleet-firewall.service", "enabled": True, "active": True}, None),
    ("firewall", "FW-05", "new SSH connections rate-limited per source", "nftables",
     {"family": "inet", "table": "edgefleet", "rate_limited": lambda s, h: [s["ssh_port"]]},
     lambda s, h: bool(s["ssh_rate_limit"])),
    ("auditd", "AUD-01", "audit daemon running", "service",
     {"name": "auditd.service", "enabled": True, "active": True, "waive_in_container": KERNEL_WAIVER}, None),
    ("auditd", "AUD-02", "audit rules loaded", "audit_rules", {"keys": AUDIT_KEYS, "waive_in_container": KERNEL_WAIVER},
     None),
    ("pam", "PAM-01", "locked accounts refused before the password", "pam",
     {"file": lambda s, h: h.os["pam_auth_file"], "module": "pam_faillock.so", "args": ["preauth"]}, None),
    ("pam", "PAM-02", "failed logins counted", "pam",
     {"file": lambda s, h: h.os["pam_auth_file"], "module": "pam_faillock.so", "args": ["authfail"]}, None),
    ("pam", "PAM-03", "lockout after failed logins", "config",
     {"path": "/etc/security/faillock.conf", "key": "deny", "expected": S("pam_faillock_deny")}, None),
    ("pam", "PAM-04", "password quality checked", "pam",
     {"file": lambda s, h: h.os["pam_password_file"], "module": "pam_pwquality.so"}, None),
    ("pam", "PAM-05", "minimum password length", "config",
     {"path": "/etc/security/pwquality.conf", "include": "/etc/security/pwquality.conf.d/*.conf", "key": "minlen",
      "expected": S("pam_password_minlen")}, None),
    ("pam", "PAM-06", "each session gets its own TMP (pam_tmpdir)", "pam",
     {"file": lambda s, h: h.os["pam_session_file"], "module": "pam_tmpdir.so"}, lambda s, h: h.os_family == "Debian"),
    ("login_defs", "LDEF-09", "login sessions get the default umask (pam_umask)", "pam",
     {"file": lambda s, h: h.os["pam_session_file"], "module": "pam_umask.so",
      "args": lambda s, h: ["umask=" + policy.session_umask(s)]},
     lambda s, h: h.os_family == "Debian"),
    ("time_sync", "TIME-01", "time sync enabled at boot", "service",
     {"name": lambda s, h: h.os["chrony_service"] + ".service", "enabled": True}, None),
    ("time_sync", "TIME-02", "time sync running", "service",
     {"name": lambda s, h: h.os["chrony_service"] + ".service", "active": True,
      "waive_in_container": "the clock is the host's: chrony does not run in a container"}, None),
    ("time_sync", "TIME-03", "site time servers", "file",
     {"path": lambda s, h: h.os["chrony_sources_dir"] + "/edgefleet.sources",
      "contains": lambda s, h: "server " + s["ntp_servers"][0]}, lambda s, h: bool(s["ntp_servers"])),
    ("journald", "LOG-01", "journal kept across reboots", "systemd_config",
     {"config": "systemd/journald.conf", "section": "Journal", "key": "Storage", "expected": "persistent"}, None),
    ("journald", "LOG-02", "journal size capped", "systemd_config",
     {"config": "systemd/journald.conf", "section": "Journal", "key": "SystemMaxUse", "expected": S("journald_max_use")},
     None),
    ("coredumps", "CORE-01", "no core dumps for logins", "limits",
     {"domain": "*", "type": "hard", "item": "core", "expected": "0"}, None),
    ("coredumps", "CORE-02", "no core dumps for services", "systemd_config",
     {"config": "systemd/system.conf", "section": "Manager", "key": "DefaultLimitCORE", "expected": "0"}, None),
    ("updates", "UPD-01", "unattended upgrades on", "apt_config",
     {"key": "APT::Periodic::Unattended-Upgrade", "expected": "1"}, lambda s, h: h.os_family == "Debian"),
    ("updates", "UPD-01", "automatic updates applied", "config",
     {"path": "/etc/dnf/automatic.conf", "section": "commands", "key": "apply_updates", "expected": "yes"},
     lambda s, h: h.os_family != "Debian"),
    ("updates", "UPD-02", "update timer enabled", "service", {"name": lambda s, h: h.os["updates_timer"], "enabled": True},
     None),
    ("updates", "UPD-03", "security archive in the APT sources", "apt_policy", {"suite_suffix": "-security"},
     lambda s, h: h.os_family == "Debian"),
    ("updates", "UPD-04", "services running old libraries listed after upgrades, never restarted", "config",
     {"path": "/etc/needrestart/needrestart.conf", "include": "/etc/needrestart/conf.d/*.conf", "separator": "=",
      "key": "$nrconf{restart}", "expected": "'l';"}, lambda s, h: h.os_family == "Debian"),
    ("accounting", "ACCT-01", "process accounting on", "service",
     {"name": lambda s, h: h.os["acct_service"], "enabled": True, "active": True,
      "waive_in_container": "process accounting needs CAP_SYS_PACCT, which a container lacks"}, None),
    ("integrity", "INT-01", "package files as the packages installed them (dpkg --verify)", "package_files", {},
     lambda s, h: h.os_family == "Debian"),
    ("integrity", "INT-02", "file-integrity baseline recorded (AIDE)", "file",
     {"path": policy.AIDE_DB, "mode": "0600", "owner": "root"}, None),
    ("integrity", "INT-03", "file-integrity check leaves K3s's data and logs out", "file",
     {"path": policy.AIDE_CONF, "lines": lambda s, h: policy.aide_excludes(s)}, None),
    ("integrity", "INT-04", "file-integrity check scheduled", "service",
     {"name": "edgefleet-integrity.timer", "enabled": True, "active": True}, None),
)


def _resolve(value: t.Any, s: t.Dict[str, t.Any], host: Context) -> t.Any:
    if isinstance(value, S):
        value = s[value.name]
    elif callable(value):
        value = value(s, host)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _control(area: str, cid: str, title: str, check: str, fields: t.Dict[str, t.Any], s: t.Dict[str, t.Any],
             host: Context) -> t.Dict[str, t.Any]:
    control = {"id": cid, "area": area, "title": title, "check": check}
    control.update({k: _resolve(v, s, host) for k, v in fields.items()})
    return control


def _ssh_value(value: t.Any, s: t.Dict[str, t.Any]) -> t.Any:
    if isinstance(value, YesNo):
        return "yes" if s[value.name] else "no"
    return s[value.name] if isinstance(value, S) else value


def ssh_controls(s: t.Dict[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
    out = []
    for cid, title, keyword, raw, compare in SSH:
        value = _ssh_value(raw, s)
        if isinstance(value, list) and not value:
            continue
        control: t.Dict[str, t.Any] = {"id": cid, "area": "ssh", "title": title, "check": "sshd", "key": keyword.lower()}
        if compare == "root":
            control["allowed"] = (["prohibit-password", "without-password"] if value == "prohibit-password" else [value])
        elif compare in ("allowed", "required"):
            control[compare] = list(value)
        else:
            control["expected"] = str(value)
        out.append(control)
    return out


def sshd_config(s: t.Dict[str, t.Any], supported: t.Optional[t.Dict[str, t.List[str]]] = None) -> t.List[str]:
    """The lines of the role's sshd_config drop-in: what the SSH controls (and BAN-02) expect, minus the
    skipped controls; algorithm lists keep only what ``supported`` (``ssh -Q``) lists, when given."""
    skip = set(s["skip_controls"])
    lines = []
    for cid, _title, keyword, raw, _compare in SSH:
        if cid in skip:
            continue
        value = _ssh_value(raw, s)
        if keyword in SSH_ALGORITHMS and supported is not None:
            value = [v for v in value if v in supported.get(SSH_ALGORITHMS[keyword], [])]
        if isinstance(value, list):
            value = ("," if keyword in SSH_ALGORITHMS else " ").join(value)
        if str(value):
            lines.append("%s %s" % (keyword, value))
    if s["banner_enabled"] and "BAN-02" not in skip:
        lines.append("Banner %s" % BANNER_FILE)
    return lines


def controls_for(s: t.Dict[str, t.Any], host: Context) -> t.List[t.Dict[str, t.Any]]:
    """Every control of the enabled areas for one host, in the catalogue's order (skipped ones included:
    the audit reports them as waived)."""
    areas = policy.enabled_areas(s)
    out: t.List[t.Dict[str, t.Any]] = []
    if "ssh" in areas:
        out += ssh_controls(s)
    if "banner" in areas:
        out += _catalogue_area("banner", s, host)
    if "sysctl" in areas:
        for key, value in sorted(policy.sysctl_wanted(s).items()):
            control = {"id": "SYS-" + key, "area": "sysctl", "title": "kernel parameter " + key, "check": "sysctl",
                       "key": key, "expected": value}
            if not policy.is_netns_key(key):
                control["waive_in_container"] = KERNEL_WAIVER
            out.append(control)
    if "modules" in areas:
        for module in policy.modules_blocked(s, host.mounted_fstypes, keep_skipped=True):
            out.append({"id": "MOD-" + module, "area": "modules", "title": "module %s cannot load" % module,
                        "check": "module_blocked", "module": module, "waive_in_container": KERNEL_WAIVER})
        if s["kubernetes_node"]:
            for module in policy.MODULES_KUBERNETES:
                out.append({"id": "KMOD-" + module, "area": "modules", "title": "module %s loaded for Kubernetes" % module,
                            "check": "module_loaded", "module": module, "waive_in_container": KERNEL_WAIVER})
    for area in ("firewall", "auditd", "pam"):
        if area in areas:
            out += _catalogue_area(area, s, host)
    if "login_defs" in areas:
        values = policy.login_defs(s)
        for cid, key, title in LOGIN_DEFS:
            out.append({"id": cid, "area": "login_defs", "title": title, "check": "config", "path": "/etc/login.defs",
                        "key": key, "expected": values[key]})
        out += _catalogue_area("login_defs", s, host)
    if "files" in areas:
        for f in policy.sensitive_files(s, host.os_family, keep_skipped=True):
            out.append({"id": "FILE-" + f["path"], "area": "files", "title": "permissions of " + f["path"], "check": "file",
                        "path": f["path"], "mode": f["mode"], "owner": f["owner"], "group": f["group"],
                        "when_present": f["path"]})
    for area in ("time_sync", "journald", "coredumps"):
        if area in areas:
            out += _catalogue_area(area, s, host)
    if "services" in areas:
        for unit in dict.fromkeys(s["services_disabled"]):
            out.append({"id": "SVC-" + unit, "area": "services", "title": unit + " off", "check": "service",
                        "name": unit, "enabled": False, "active": False})
    for area in ("updates", "accounting", "integrity"):
        if area in areas:
            out += _catalogue_area(area, s, host)
    return out


def _catalogue_area(area: str, s: t.Dict[str, t.Any], host: Context) -> t.List[t.Dict[str, t.Any]]:
    return [_control(a, cid, title, check, fields, s, host) for a, cid, title, check, fields, when in CATALOGUE
            if a == area and (when is None or when(s, host))]
