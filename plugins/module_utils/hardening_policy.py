# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardening policy: the os_hardening role's settings, checked, and what follows from them.

The role passes its variables without the ``os_hardening_`` prefix as *settings*.
:func:`check_settings` validates them (an error names the setting) and fills in the defaults. The
functions below derive what the enforce tasks apply and the audit expects: the names of the OS
family, the kernel parameters of the profile, the module blocklist, the sensitive files, the
units. The filter ``edgefleet.platform.os_hardening_policy`` calls them on the controller for the
enforce tasks, :mod:`hardening_controls` on the host for the audit, so both follow one rule.
Pure functions; nothing here reads a host or imports Ansible.
"""

from __future__ import annotations

import copy
import re
import typing as t


class SettingsError(ValueError):
    """A setting is invalid; names the setting."""

    def __init__(self, name: str, problem: str):
        self.name = name
        super().__init__("%s: %s" % (name, problem))


# The areas, in the order the role applies them; each one is switched by <area>_enabled.
# The file-integrity baseline comes last: it records the state the other areas leave.
AREAS = ("modules", "sysctl", "files", "banner", "ssh", "firewall", "auditd", "pam", "login_defs", "time_sync",
         "journald", "coredumps", "services", "updates", "accounting", "integrity")

# Names that differ between OS families (Debian and Ubuntu are tested; the RHEL family is written for).
OS_FAMILIES: t.Dict[str, t.Dict[str, t.Any]] = {
    "Debian": {
        "packages": {
            "ssh": ["openssh-server", "openssh-client"],
            "sysctl": ["procps"],
            "modules": ["kmod"],
            "firewall": ["nftables"],
            "auditd": ["auditd"],
            # cracklib-runtime: the dictionary pwquality's dictcheck reads (only a Recommends)
            # libpam-tmpdir: a private TMP per session (its package enables the PAM profile)
            "pam": ["libpam-pwquality", "libpam-modules", "cracklib-runtime", "libpam-tmpdir"],
            "login_defs": ["login"],
            "time_sync": ["chrony"],
            # needrestart: which services run old libraries after an upgrade (listed, never restarted)
            "updates": ["unattended-upgrades", "needrestart"],
            "accounting": ["acct"],
            "integrity": ["aide"],
        },
        "ssh_service": "ssh",
        "chrony_service": "chrony",
        "chrony_sources_dir": "/etc/chrony/sources.d",
        "chrony_conf": "/etc/chrony/chrony.conf",
        "shadow_mode": "0640",
        "shadow_group": "shadow",
        "grub_cfg": "/boot/grub/grub.cfg",
        "pam_auth_file": "/etc/pam.d/common-auth",
        "pam_password_file": "/etc/pam.d/common-password",
        "pam_session_file": "/etc/pam.d/common-session",
        "updates_timer": "apt-daily-upgrade.timer",
        "acct_service": "acct.service",
    },
    "RedHat": {
        "packages": {
            "ssh": ["openssh-server", "openssh-clients"],
            "sysctl": ["procps-ng"],
            "modules": ["kmod"],
            "firewall": ["nftables"],
            "auditd": ["audit"],
            "pam": ["libpwquality", "authselect"],
            "login_defs": ["shadow-utils"],
            "time_sync": ["chrony"],
            "updates": ["dnf-automatic"],
            "accounting": ["psacct"],
            "integrity": ["aide"],
        },
        "ssh_service": "sshd",
        "chrony_service": "chronyd",
        "chrony_sources_dir": "/etc/chrony/sources.d",
        "chrony_conf": "/etc/chrony.conf",
        "shadow_mode": "0000",
        "shadow_group": "root",
        "grub_cfg": "/boot/grub2/grub.cfg",
        "pam_auth_file": "/etc/pam.d/system-auth",
        "pam_password_file": "/etc/pam.d/system-auth",
        "pam_session_file": "/etc/pam.d/system-auth",
        "updates_timer": "dnf-automatic.timer",
        "acct_service": "psacct.service",
    },
}

# Virtualization types whose kernel is the host's: kernel-global state (kernel.*, vm.*, fs.*
# sysctls, modules, audit rules, the clock) is never written from inside them.
CONTAINER_TYPES = ("podman", "docker", "container", "lxc", "systemd-nspawn", "containerd", "openvz")
# sysctl keys that live in the network namespace: the only ones a container owns.
NETNS_PREFIXES = ("net.ipv4.", "net.ipv6.", "net.bridge.")

# Every host.
SYSCTL_BASE = {
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.default.accept_redirects": "0",
    "net.ipv4.conf.all.secure_redirects": "0",
    "net.ipv4.conf.default.secure_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.conf.default.accept_source_route": "0",
    "net.ipv4.conf.all.log_martians": "1",
    "net.ipv4.conf.default.log_martians": "1",
    "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    "net.ipv4.icmp_ignore_bogus_error_responses": "1",
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv4.tcp_rfc1337": "1",
    "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv6.conf.default.accept_redirects": "0",
    "net.ipv6.conf.all.accept_source_route": "0",
    "net.ipv6.conf.default.accept_source_route": "0",
    "kernel.kptr_restrict": "2",
    "kernel.dmesg_restrict": "1",
    "kernel.sysrq": "0",
    "kernel.randomize_va_space": "2",
    "kernel.yama.ptrace_scope": "1",
    "kernel.unprivileged_bpf_disabled": "1",
    "net.core.bpf_jit_harden": "2",
    "fs.protected_hardlinks": "1",
    "fs.protected_symlinks": "1",
    "fs.protected_fifos": "2",
    "fs.protected_regular": "2",
    "fs.suid_dumpable": "0",
}
# Hosts that are not Kubernetes nodes: no routing, strict reverse-path filter.
SYSCTL_HOST = {
    "net.ipv4.ip_forward": "0",
    "net.ipv6.conf.all.forwarding": "0",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.default.rp_filter": "1",
}
# Kubernetes nodes route pod traffic; the kubelet (protect-kernel-defaults) expects the
# panic/overcommit/keys values; many pods need inotify headroom. rp_filter is loose (2): pod and
# VXLAN paths are asymmetric.
SYSCTL_KUBERNETES = {
    "net.ipv4.ip_forward": "1",
    "net.ipv6.conf.all.forwarding": "1",
    "net.ipv4.conf.all.rp_filter": "2",
    "net.ipv4.conf.default.rp_filter": "2",
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "vm.overcommit_memory": "1",
    "vm.panic_on_oom": "0",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
    "kernel.keys.root_maxkeys": "1000000",
    "kernel.keys.root_maxbytes": "25000000",
    "fs.inotify.max_user_instances": "8192",
    "fs.inotify.max_user_watches": "524288",
}
# The role's nftables file (table inet edgefleet).
FIREWALL_FILE = "/etc/edgefleet/firewall.nft"
# K3s's inbound ports (https://docs.k3s.io/installation/requirements#inbound-rules-for-k3s-nodes); the API
# port is a setting (k3s_api_port), the flannel ports follow the backend.
K3S_ETCD = "2379-2380"
K3S_KUBELET = "10250"
FLANNEL_PORTS = {"vxlan": ["8472"], "wireguard-native": ["51820", "51821"], "host-gw": [], "none": []}
LONGHORN_PORTS = "9500-9504"
NODEPORTS = "30000-32767"
VRRP = 112  # keepalived, the API VIP of multi-server clusters

# Written first: writing forwarding resets other net.ipv4/ipv6 conf values to their defaults.
SYSCTL_FIRST = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")

# Modules K3s, Longhorn and Ceph need: never blocked, whatever the lists say.
MODULES_REQUIRED = ("overlay", "br_netfilter", "nf_conntrack", "nf_nat", "vxlan", "ip_tables", "ip6_tables",
                    "iptable_nat", "iptable_filter", "xt_conntrack", "wireguard", "iscsi_tcp", "dm_crypt",
                    "dm_snapshot", "dm_thin_pool", "rbd", "ceph", "nbd", "nvme_tcp")
# Loaded now and at boot on Kubernetes nodes.
MODULES_KUBERNETES = ("overlay", "br_netfilter")
# Industrial device classes and the modules they need.
DEVICE_MODULES = {
    "can": ["can", "can_raw", "can_bcm", "can_gw", "can_dev", "vcan", "slcan", "peak_usb", "gs_usb"],
    "serial": ["usbserial", "ftdi_sio", "pl2303", "cp210x", "ch341", "cdc_acm"],
    "usb_camera": ["uvcvideo", "videodev"],
    "usb_storage": ["usb-storage", "uas"],
    "bluetooth": ["bluetooth", "btusb"],
    "firewire": ["firewire-core"],
    "thunderbolt": ["thunderbolt"],
}

# The file-integrity baseline (AIDE): what it records, and what it leaves out because it changes on its
# own. Contents (hashes) where files are few and rarely change; metadata (owner, mode, inode, size) for
# the binaries and libraries, whose contents `dpkg --verify` (INT-01) checks against the packages.
AIDE_CONF = "/etc/aide/edgefleet.conf"
AIDE_DB = "/var/lib/aide/edgefleet.db"
AIDE_CONTENTS = ("/boot", "/etc", "/usr/local", "/opt", "/root", "/var/spool/cron")
AIDE_METADATA = ("/usr/bin", "/usr/sbin", "/usr/lib")
# K3s's data, state and logs, and what changes at every login or run (regular expressions, anchored).
AIDE_EXCLUDES = ("/var/lib/rancher", "/run/k3s", "/var/lib/kubelet", "/var/lib/cni", "/var/log/pods",
                 "/var/log/containers", "/etc/rancher/k3s/k3s\\.yaml$", "/etc/rancher/node",
                 "/root/\\.ansible", "/root/\\.cache", "/etc/mtab$", "/etc/adjtime$", "/etc/ld\\.so\\.cache$")
# The security archive of each distribution Ansible reports.
SECURITY_ARCHIVES = {
    "Debian": {"uri": "http://deb.debian.org/debian-security", "components": "main"},
    "Ubuntu": {"uri": "http://security.ubuntu.com/ubuntu", "components": "main universe"},
}
SECURITY_SOURCES = "/etc/apt/sources.list.d/edgefleet-security.sources"
NEEDRESTART_CONF = "/etc/needrestart/conf.d/50-edgefleet.conf"

# --- settings ----------------------------------------------------------------------------

BOOL, INT, STR, STR_LIST, STR_DICT, RULES = "bool", "int", "str", "list of str", "dict", "rules"

# name -> (kind, default). The defaults are the role's (roles/os_hardening/defaults/main.yml; a
# unit test keeps the two equal). cluster_peers and control_peers are what the role computes from
# the inventory (the other members of the device's cluster and its control nodes).
SETTINGS: t.Dict[str, t.Tuple[str, t.Any]] = {
    "kubernetes_node": (BOOL, False),
    "kubernetes_control_node": (BOOL, True),
    "skip_controls": (STR_LIST, []),
    "ssh_port": (INT, 22),
    "ssh_permit_root_login": (STR, "prohibit-password"),
    "ssh_max_auth_tries": (INT, 3),
    "ssh_login_grace_time": (INT, 30),
    "ssh_client_alive_interval": (INT, 300),
    "ssh_client_alive_count_max": (INT, 2),
    "ssh_allow_groups": (STR_LIST, []),
    "ssh_ciphers": (STR_LIST, ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
                               "aes256-ctr", "aes192-ctr", "aes128-ctr"]),
    "ssh_macs": (STR_LIST, ["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "umac-128-etm@openssh.com"]),
    "ssh_kex": (STR_LIST, ["sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org",
                           "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"]),
    "sysctl_overrides": (STR_DICT, {}),
    "modules_blocklist": (STR_LIST, ["cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "udf", "dccp", "sctp", "rds",
                                     "tipc", "bluetooth", "btusb", "firewire-core", "thunderbolt", "usb-storage"]),
    "devices_allowed": (STR_LIST, []),
    "modules_allowlist": (STR_LIST, []),
    "management_networks": (STR_LIST, []),
    "cluster_peers": (STR_LIST, []),
    "control_peers": (STR_LIST, []),
    "pod_cidr": (STR, "10.42.0.0/16"),
    "service_cidr": (STR, "10.43.0.0/16"),
    "firewall_nodeports": (BOOL, False),
    "firewall_longhorn": (BOOL, False),
    "firewall_allowed": (RULES, []),
    "k3s_api_port": (INT, 6443),
    "k3s_flannel_backend": (STR, "vxlan"),
    "auditd_immutable": (BOOL, False),
    "pam_password_minlen": (INT, 14),
    "pam_password_minclass": (INT, 3),
    "pam_faillock_deny": (INT, 5),
    "pam_faillock_unlock_time": (INT, 900),
    "banner_text": (STR, "Authorised access only. Activity on this system is logged and monitored.\n"),
    "ntp_servers": (STR_LIST, ["2.debian.pool.ntp.org"]),
    "journald_max_use": (STR, "512M"),
    "services_disabled": (STR_LIST, ["avahi-daemon.service", "avahi-daemon.socket", "cups.service", "cups.socket",
                                     "rpcbind.service", "rpcbind.socket", "nfs-server.service", "bluetooth.service",
                                     "ModemManager.service"]),
    "updates_security_only": (BOOL, True),
    "ssh_allow_tcp_forwarding": (BOOL, False),
    "ssh_allow_agent_forwarding": (BOOL, False),
    "ssh_max_sessions": (INT, 10),
    "ssh_log_level": (STR, "VERBOSE"),
    "ssh_tcp_keepalive": (BOOL, False),
    "ssh_compression": (BOOL, False),
    "ssh_rate_limit": (STR, "10/minute"),
    "ssh_rate_limit_burst": (INT, 20),
    "login_pass_max_days": (INT, 365),
    "login_pass_min_days": (INT, 1),
    "login_pass_warn_age": (INT, 7),
    "login_umask": (STR, "027"),
    "login_encrypt_method": (STR, "YESCRYPT"),
    "login_yescrypt_cost_factor": (INT, 8),
    "login_sha_crypt_rounds": (INT, 640000),
    "integrity_excludes": (STR_LIST, []),
    "integrity_schedule": (STR, "daily"),
    "security_archive_uri": (STR, ""),
}
SETTINGS.update({"%s_enabled" % area: (BOOL, True) for area in AREAS})
CHOICES = {
    "ssh_permit_root_login": ("prohibit-password", "forced-commands-only", "no"),
    "k3s_flannel_backend": tuple(FLANNEL_PORTS),
    "ssh_log_level": ("QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG", "DEBUG1", "DEBUG2", "DEBUG3"),
    "login_encrypt_method": ("YESCRYPT", "SHA512"),
}
STRICT_BOOLS = {True: True, False: False}


def _coerce(name: str, kind: str, value: t.Any) -> t.Any:
    def bad(expected: str) -> SettingsError:
        return SettingsError(name, "must be %s, got %s %r" % (expected, type(value).__name__, value))

    if kind == BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise bad("a boolean")
    if kind == INT:
        if isinstance(value, bool):
            raise bad("an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
            return int(value)
        raise bad("an integer")
    if kind == STR:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if kind == STR_LIST:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad("a list of non-empty strings")
        return list(value)
    if kind == STR_DICT:
        if not isinstance(value, dict) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                  for v in value.values()):
            raise bad("a mapping of names to strings or integers")
        return {str(k): str(v) for k, v in value.items()}
    if kind == RULES:
        if not isinstance(value, list):
            raise bad("a list of rules")
        rules = []
        for index, rule in enumerate(value):
            where = "%s[%d]" % (name, index)
            if not isinstance(rule, dict) or "port" not in rule:
                raise SettingsError(where, "a rule is a mapping with port, and optionally proto and sources")
            port = str(rule["port"])
            if not re.fullmatch(r"\d{1,5}(-\d{1,5})?", port):
                raise SettingsError(where, "port must be a number or a range such as 4840-4841, got %r" % rule["port"])
            proto = rule.get("proto") or "tcp"
            if proto not in ("tcp", "udp"):
                raise SettingsError(where, "proto must be tcp or udp, got %r" % proto)
            sources = rule.get("sources") or []
            if not isinstance(sources, list) or not all(isinstance(v, str) and v for v in sources):
                raise SettingsError(where, "sources must be a list of addresses or networks")
            rules.append({"port": port, "proto": proto, "sources": list(sources)})
        return rules
    raise AssertionError(kind)  # pragma: no cover


def check_settings(raw: t.Any) -> t.Dict[str, t.Any]:
    """The settings, validated and with every default filled in; unknown names are refused."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SettingsError("settings", "must be a mapping")
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise SettingsError(unknown[0], "unknown setting; known: %s" % ", ".join(sorted(SETTINGS)))
    out = {}
    for name, (kind, default) in SETTINGS.items():
        value = raw.get(name)
        out[name] = copy.deepcopy(default) if value is None else _coerce(name, kind, value)
    for name, choices in CHOICES.items():
        if out[name] not in choices:
            raise SettingsError(name, "must be one of %s, got %r" % (", ".join(choices), out[name]))
    bad_blocks = [m for m in out["modules_blocklist"] if m in MODULES_REQUIRED]
    if bad_blocks:
        raise SettingsError("modules_blocklist", "contains %s, needed by K3s, Longhorn or Ceph; remove them from the list"
                            % ", ".join(bad_blocks))
    unknown_devices = [d for d in out["devices_allowed"] if d not in DEVICE_MODULES]
    if unknown_devices:
        raise SettingsError("devices_allowed", "unknown classes %s; known: %s"
                            % (", ".join(unknown_devices), ", ".join(sorted(DEVICE_MODULES))))
    for port in ("ssh_port", "k3s_api_port"):
        if not 0 < out[port] < 65536:
            raise SettingsError(port, "must be a port number (1-65535), got %d" % out[port])
    if out["ssh_rate_limit"] and not re.fullmatch(r"[1-9]\d*/(second|minute|hour)", out["ssh_rate_limit"]):
        raise SettingsError("ssh_rate_limit", "must be like 10/minute (per second, minute or hour) or empty, got %r"
                            % out["ssh_rate_limit"])
    if not re.fullmatch(r"0?[0-7]{3}", out["login_umask"]):
        raise SettingsError("login_umask", "must be an octal umask such as 027, got %r" % out["login_umask"])
    if not 1 <= out["login_yescrypt_cost_factor"] <= 11:
        raise SettingsError("login_yescrypt_cost_factor", "must be 1 to 11, got %d" % out["login_yescrypt_cost_factor"])
    if not 1000 <= out["login_sha_crypt_rounds"] <= 999999999:
        raise SettingsError("login_sha_crypt_rounds", "must be 1000 to 999999999, got %d" % out["login_sha_crypt_rounds"])
    if out["login_pass_min_days"] > out["login_pass_max_days"]:
        raise SettingsError("login_pass_min_days", "is more than login_pass_max_days (%d)" % out["login_pass_max_days"])
    return out


# --- derivations -------------------------------------------------------------------------

def os_names(os_family: str) -> t.Dict[str, t.Any]:
    if os_family not in OS_FAMILIES:
        raise SettingsError("os_family", "the role knows the OS families %s, this host is %r"
                            % (", ".join(sorted(OS_FAMILIES)), os_family))
    return OS_FAMILIES[os_family]


def is_container(virtualization_role: t.Optional[str], virtualization_type: t.Optional[str]) -> bool:
    """Ansible's virtualization facts of a host whose kernel is another host's."""
    return virtualization_role == "guest" and virtualization_type in CONTAINER_TYPES


def enabled_areas(s: t.Dict[str, t.Any]) -> t.List[str]:
    return [area for area in AREAS if s["%s_enabled" % area]]


def skipped(s: t.Dict[str, t.Any], prefix: str) -> t.Set[str]:
    """What os_hardening_skip_controls leaves alone for one id family, e.g. SYS- -> sysctl keys."""
    return {c[len(prefix):] for c in s["skip_controls"] if c.startswith(prefix)}


def packages(s: t.Dict[str, t.Any], os_family: str, container: bool = False) -> t.List[str]:
    """Packages of the enabled areas; process accounting only where the kernel lets it (not in a container)."""
    names = os_names(os_family)["packages"]
    return [p for area in enabled_areas(s) if not (area == "accounting" and container) for p in names.get(area, [])]


def sysctl_wanted(s: t.Dict[str, t.Any]) -> t.Dict[str, str]:
    """Every kernel parameter of the profile (base + Kubernetes node or plain host + overrides)."""
    wanted = dict(SYSCTL_BASE)
    wanted.update(SYSCTL_KUBERNETES if s["kubernetes_node"] else SYSCTL_HOST)
    wanted.update(s["sysctl_overrides"])
    return wanted


def is_netns_key(key: str) -> bool:
    return key.startswith(NETNS_PREFIXES)


def sysctl_applied(s: t.Dict[str, t.Any], present: t.Iterable[str], container: bool) -> t.Dict[str, str]:
    """The parameters the role writes here, in the order they are written: those this kernel has, not
    skipped, and in a container only the network namespace's (the others would change the host)."""
    present = set(present)
    skip = skipped(s, "SYS-")
    wanted = sysctl_wanted(s)
    keys = [k for k in wanted if k in present and k not in skip and (is_netns_key(k) or not container)]
    ordered = [k for k in SYSCTL_FIRST if k in keys] + sorted(k for k in keys if k not in SYSCTL_FIRST)
    return {k: wanted[k] for k in ordered}


def module_allowed(s: t.Dict[str, t.Any]) -> t.Set[str]:
    allowed = set(s["modules_allowlist"])
    for device in s["devices_allowed"]:
        allowed.update(DEVICE_MODULES[device])
    return allowed


def modules_blocked(s: t.Dict[str, t.Any], mounted_fstypes: t.Iterable[str], keep_skipped: bool = False) -> t.List[str]:
    """The effective blocklist, sorted: minus what the site allows, any filesystem in use and (unless
    keep_skipped, as the audit lists them) the modules of skipped controls."""
    keep = module_allowed(s) | set(mounted_fstypes) | (set() if keep_skipped else skipped(s, "MOD-"))
    return sorted(m for m in dict.fromkeys(s["modules_blocklist"]) if m not in keep)


def sensitive_files(s: t.Dict[str, t.Any], os_family: str, keep_skipped: bool = False) -> t.List[t.Dict[str, str]]:
    names = os_names(os_family)
    files = [
        {"path": "/etc/passwd", "mode": "0644", "owner": "root", "group": "root"},
        {"path": "/etc/group", "mode": "0644", "owner": "root", "group": "root"},
        {"path": "/etc/shadow", "mode": names["shadow_mode"], "owner": "root", "group": names["shadow_group"]},
        {"path": "/etc/gshadow", "mode": names["shadow_mode"], "owner": "root", "group": names["shadow_group"]},
        {"path": "/etc/ssh/sshd_config", "mode": "0600", "owner": "root", "group": "root"},
        {"path": "/etc/crontab", "mode": "0600", "owner": "root", "group": "root"},
        {"path": "/etc/cron.d", "mode": "0700", "owner": "root", "group": "root"},
        {"path": "/etc/cron.hourly", "mode": "0700", "owner": "root", "group": "root"},
        {"path": "/etc/cron.daily", "mode": "0700", "owner": "root", "group": "root"},
        {"path": "/etc/cron.weekly", "mode": "0700", "owner": "root", "group": "root"},
        {"path": "/etc/cron.monthly", "mode": "0700", "owner": "root", "group": "root"},
        {"path": "/root", "mode": "0700", "owner": "root", "group": "root"},
        {"path": names["grub_cfg"], "mode": "0600", "owner": "root", "group": "root"},
    ]
    skip = set() if keep_skipped else skipped(s, "FILE-")
    return [f for f in files if f["path"] not in skip]


def services_disabled(s: t.Dict[str, t.Any]) -> t.List[str]:
    """Units to stop and disable, sockets first: a stopped service whose socket still listens comes back."""
    skip = skipped(s, "SVC-")
    units = [u for u in dict.fromkeys(s["services_disabled"]) if u not in skip]
    return [u for u in units if u.endswith(".socket")] + [u for u in units if not u.endswith(".socket")]


def units(s: t.Dict[str, t.Any], os_family: str, container: bool) -> t.List[t.Dict[str, t.Any]]:
    """Units and the state the enforce tasks bring them to (unused ones off, the role's own on)."""
    names = os_names(os_family)
    areas = enabled_areas(s)
    out: t.List[t.Dict[str, t.Any]] = []
    if "services" in areas:
        out += [{"name": u, "enabled": False, "active": False} for u in services_disabled(s)]
    if "auditd" in areas and not container:  # a container cannot run the audit daemon
        out.append({"name": "auditd.service", "enabled": True, "active": True})
    if "time_sync" in areas:  # chrony skips itself in a container (no CAP_SYS_TIME): enabled only there
        chrony = {"name": names["chrony_service"] + ".service", "enabled": True}
        if not container:
            chrony["active"] = True
        out.append(chrony)
    if "firewall" in areas:
        out.append({"name": "edgefleet-firewall.service", "enabled": True, "active": True})
    if "updates" in areas:
        out.append({"name": names["updates_timer"], "enabled": True, "active": True})
    if "accounting" in areas and not container:  # accton needs CAP_SYS_PACCT, which a container lacks
        out.append({"name": names["acct_service"], "enabled": True, "active": True})
    if "integrity" in areas:
        out.append({"name": "edgefleet-integrity.timer", "enabled": True, "active": True})
    return out


def login_defs(s: t.Dict[str, t.Any]) -> t.Dict[str, str]:
    """The /etc/login.defs keys the role sets: password ageing of new accounts, the default umask, the
    hashing method and its cost (for the shadow tools, and pam_unix where it takes them from here)."""
    return {
        "PASS_MAX_DAYS": str(s["login_pass_max_days"]),
        "PASS_MIN_DAYS": str(s["login_pass_min_days"]),
        "PASS_WARN_AGE": str(s["login_pass_warn_age"]),
        "UMASK": s["login_umask"].lstrip("0").rjust(3, "0"),
        "ENCRYPT_METHOD": s["login_encrypt_method"],
        "YESCRYPT_COST_FACTOR": str(s["login_yescrypt_cost_factor"]),
        "SHA_CRYPT_MIN_ROUNDS": str(s["login_sha_crypt_rounds"]),
        "SHA_CRYPT_MAX_ROUNDS": str(s["login_sha_crypt_rounds"]),
    }


def session_umask(s: t.Dict[str, t.Any]) -> str:
    """The umask pam_umask gives login sessions, as its umask= argument (four digits)."""
    return login_defs(s)["UMASK"].rjust(4, "0")


def aide_excludes(s: t.Dict[str, t.Any]) -> t.List[str]:
    """The exclusion lines of the AIDE configuration (K3s's data and the site's own)."""
    return ["!" + path for path in list(AIDE_EXCLUDES) + s["integrity_excludes"]]


def security_sources(s: t.Dict[str, t.Any], distribution: str, codename: str) -> t.Optional[t.Dict[str, str]]:
    """The deb822 source of the distribution's security archive, or None for a distribution without one known."""
    archive = SECURITY_ARCHIVES.get(distribution)
    if archive is None or not codename:
        return None
    return {"uri": s["security_archive_uri"] or archive["uri"], "suite": codename + "-security",
            "components": archive["components"]}


def _families(addresses: t.Iterable[str]) -> t.Tuple[t.List[str], t.List[str]]:
    addresses = list(addresses)
    return [a for a in addresses if ":" not in a], [a for a in addresses if ":" in a]


def _rule(comment: str, proto: t.Optional[str], ports: t.Optional[str], source: t.Optional[str],
          sources: t.Optional[t.List[str]] = None, audited: bool = True) -> t.Dict[str, t.Any]:
    """One inbound rule: what it accepts (``proto`` tcp/udp with ``ports``, or an IP protocol number, or
    everything when both are None) from where (a named address set, a list of networks, or anywhere)."""
    if proto in ("tcp", "udp"):
        match = "%s dport %s" % (proto, ports)
    elif proto is not None:
        match = "meta l4proto %s" % proto
    else:
        match = ""
    lines = []
    if source:
        lines = ["ip saddr @%s4 %s accept" % (source, match), "ip6 saddr @%s6 %s accept" % (source, match)]
    elif sources:
        v4, v6 = _families(sources)
        lines = (["ip saddr { %s } %s accept" % (", ".join(v4), match)] if v4 else []) + (
            ["ip6 saddr { %s } %s accept" % (", ".join(v6), match)] if v6 else [])
    else:
        lines = ["%s accept" % match]
    return {"comment": comment, "proto": proto, "ports": ports, "from": source or sources or "any",
            "audited": audited and proto in ("tcp", "udp"), "lines": [" ".join(line.split()) for line in lines]}


def inbound_rules(s: t.Dict[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
    """Everything the input chain accepts beyond established traffic, loopback and ICMP, in order: SSH,
    then on Kubernetes nodes the pod/service networks and K3s's ports, the options, the site's rules.
    The firewall file is written from it and the audit (FW-01) expects its ports: one list."""
    management = "management" if s["management_networks"] else None
    ssh = str(s["ssh_port"])
    rules = []
    if s["ssh_rate_limit"]:
        # before the accepts: a source opening new connections faster than the rate is dropped until it slows down
        limit = "limit rate over %s burst %d packets" % (s["ssh_rate_limit"], s["ssh_rate_limit_burst"])
        comment = "FW-05 new SSH connections limited per source (%s, burst %d)" % (
            s["ssh_rate_limit"], s["ssh_rate_limit_burst"])
        rules.append({"comment": comment, "proto": "tcp", "ports": ssh, "from": "any", "audited": False,
                      "lines": ["tcp dport %s ct state new add @sshlimit4 { ip saddr %s } drop" % (ssh, limit),
                                "tcp dport %s ct state new add @sshlimit6 { ip6 saddr %s } drop" % (ssh, limit)]})
    rules.append(_rule("FW-02 SSH from the management networks" + ("" if management else " (none given: from anywhere)"),
                       "tcp", ssh, management))
    if s["kubernetes_node"]:
        rules.append(_rule("K3s: pods and services reach the node (DNS, metrics, webhooks)", None, None, "pods"))
        if s["kubernetes_control_node"]:
            api = str(s["k3s_api_port"])
            # an empty management set admits nobody here (SSH alone falls back to anywhere)
            rules.append(_rule("K3s API for admins", "tcp", api, "management"))
            rules.append(_rule("K3s API for the nodes (agents join and watch through it)", "tcp", api, "nodes"))
            rules.append(_rule("etcd between control nodes", "tcp", K3S_ETCD, "controls"))
            rules.append(_rule("keepalived VRRP (the API VIP) between control nodes", str(VRRP), None, "controls"))
        rules.append(_rule("kubelet between nodes (logs, exec, metrics)", "tcp", K3S_KUBELET, "nodes"))
        for port in FLANNEL_PORTS[s["k3s_flannel_backend"]]:
            rules.append(_rule("flannel %s between nodes" % s["k3s_flannel_backend"], "udp", port, "nodes"))
        if s["firewall_longhorn"]:
            rules.append(_rule("Longhorn manager and instance managers between nodes", "tcp", LONGHORN_PORTS, "nodes",
                               audited=False))
        if s["firewall_nodeports"]:
            rules.append(_rule("NodePort services", "tcp", NODEPORTS, None, audited=False))
            rules.append(_rule("NodePort services", "udp", NODEPORTS, None, audited=False))
    for index, site in enumerate(s["firewall_allowed"], 1):
        rules.append(_rule("site rule %d" % index, site["proto"], site["port"], None, site["sources"], audited=False))
    return rules


def meters(s: t.Dict[str, t.Any]) -> t.List[t.Dict[str, str]]:
    """The dynamic sets the rate limit keeps its per-source state in (entries expire after a minute idle)."""
    if not s["ssh_rate_limit"]:
        return []
    return [{"name": "sshlimit4", "type": "ipv4_addr"}, {"name": "sshlimit6", "type": "ipv6_addr"}]


def address_sets(s: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.List[str]]]:
    """The named address sets of the table, each split by family (nft sets hold one family)."""
    sets = {"management": s["management_networks"], "nodes": s["cluster_peers"], "controls": s["control_peers"],
            "pods": [s["pod_cidr"], s["service_cidr"]]}
    return {name: dict(zip(("ipv4", "ipv6"), _families(addresses))) for name, addresses in sets.items()}


def open_ports(s: t.Dict[str, t.Any]) -> t.Dict[str, t.List[int]]:
    """The single ports of the audited inbound rules (FW-01 checks each is accepted): SSH, and on
    Kubernetes nodes the K3s API (control nodes), the kubelet and the flannel backend's ports."""
    ports: t.Dict[str, t.List[int]] = {"tcp": [], "udp": []}
    for rule in inbound_rules(s):
        if rule["audited"] and rule["ports"].isdigit() and int(rule["ports"]) not in ports[rule["proto"]]:
            ports[rule["proto"]].append(int(rule["ports"]))
        elif rule["audited"] and "-" in rule["ports"]:
            low, high = (int(p) for p in rule["ports"].split("-"))
            ports[rule["proto"]] += [p for p in range(low, high + 1) if p not in ports[rule["proto"]]]
    return {proto: sorted(found) for proto, found in ports.items()}
