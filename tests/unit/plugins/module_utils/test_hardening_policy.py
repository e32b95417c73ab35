# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The os_hardening settings and what follows from them (module_utils/hardening_policy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import hardening_policy as policy
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_policy import SettingsError, check_settings

ROLE_DEFAULTS = Path(__file__).resolve().parents[4] / "roles/os_hardening/defaults/main.yml"


def settings(**changes):
    return check_settings(changes)


def test_python_defaults_are_the_roles():
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    from_the_inventory = set()
    for name, (_kind, default) in policy.SETTINGS.items():
        value = defaults.get("os_hardening_" + name)
        if name in ("cluster_peers", "control_peers"):
            assert "os_hardening_" + name not in defaults  # computed by the role, not a variable
        elif isinstance(value, str) and "{{" in value:
            from_the_inventory.add(name)
        else:
            assert value == default, name
    assert from_the_inventory == {"kubernetes_node", "kubernetes_control_node", "k3s_api_port", "k3s_flannel_backend"}


@pytest.mark.parametrize("raw, name, message", [
    ({"ssh_max_auth_tries": "three"}, "ssh_max_auth_tries", "must be an integer, got str 'three'"),
    ({"ssh_max_auth_tries": True}, "ssh_max_auth_tries", "must be an integer"),
    ({"kubernetes_node": "maybe"}, "kubernetes_node", "must be a boolean"),
    ({"ssh_ciphers": "aes256-ctr"}, "ssh_ciphers", "must be a list of non-empty strings"),
    ({"ssh_permit_root_login": "yes"}, "ssh_permit_root_login", "must be one of prohibit-password"),
    ({"ssh_port": 0}, "ssh_port", "must be a port number"),
    ({"modules_blocklist": ["cramfs", "overlay", "br_netfilter"]}, "modules_blocklist",
     "contains overlay, br_netfilter, needed by K3s, Longhorn or Ceph"),
    ({"devices_allowed": ["can", "modbus"]}, "devices_allowed", "unknown classes modbus; known: bluetooth, can"),
    ({"sysctl_overrides": {"vm.swappiness": ["10"]}}, "sysctl_overrides", "mapping of names to strings"),
    ({"firewall_allowed": [{"port": "502/tcp"}]}, "firewall_allowed[0]", "port must be a number or a range"),
    ({"firewall_allowed": [{"port": 502, "proto": "sctp"}]}, "firewall_allowed[0]", "proto must be tcp or udp"),
    ({"firewall_allowed": [{"proto": "udp"}]}, "firewall_allowed[0]", "a rule is a mapping with port"),
    ({"ssh_max_auth_trys": 2}, "ssh_max_auth_trys", "unknown setting"),
])
def test_bad_settings_are_named(raw, name, message):
    with pytest.raises(SettingsError) as caught:
        check_settings(raw)
    assert caught.value.name == name
    assert str(caught.value).startswith(name + ": ") and message in str(caught.value)


def test_values_from_the_inventory_are_coerced():
    s = check_settings({"ssh_port": "2222", "kubernetes_node": "True", "sysctl_overrides": {"vm.swappiness": 10},
                        "firewall_allowed": [{"port": 502, "sources": ["10.1.0.0/24"]}]})
    assert s["ssh_port"] == 2222 and s["kubernetes_node"] is True
    assert s["sysctl_overrides"] == {"vm.swappiness": "10"}
    assert s["firewall_allowed"] == [{"port": "502", "proto": "tcp", "sources": ["10.1.0.0/24"]}]


def test_defaults_are_copies():
    a = check_settings({})
    a["skip_controls"].append("SSH-01")
    assert check_settings({})["skip_controls"] == []


def test_os_names_and_unknown_family():
    assert policy.os_names("Debian")["pam_auth_file"] == "/etc/pam.d/common-auth"
    assert policy.os_names("RedHat")["ssh_service"] == "sshd"
    with pytest.raises(SettingsError, match="os_family: the role knows the OS families Debian, RedHat, this host is 'Suse'"):
        policy.os_names("Suse")


def test_container_detection_from_the_facts():
    assert policy.is_container("guest", "podman")
    assert not policy.is_container("guest", "kvm")  # a VM has its own kernel
    assert not policy.is_container("host", "kvm")


def test_packages_follow_the_enabled_areas():
    s = settings(auditd_enabled=False, time_sync_enabled=False)
    debian = policy.packages(s, "Debian")
    assert "auditd" not in debian and "chrony" not in debian
    assert debian[:2] == ["kmod", "procps"]  # modules first, then sysctl: the order of the areas
    assert "cracklib-runtime" in debian and "audit" in policy.packages(settings(), "RedHat")


def test_sysctl_profiles():
    node = policy.sysctl_wanted(settings(kubernetes_node=True))
    host = policy.sysctl_wanted(settings())
    assert (node["net.ipv4.ip_forward"], node["net.ipv4.conf.all.rp_filter"]) == ("1", "2")
    assert (host["net.ipv4.ip_forward"], host["net.ipv4.conf.all.rp_filter"]) == ("0", "1")
    assert "vm.overcommit_memory" in node and "vm.overcommit_memory" not in host
    assert policy.sysctl_wanted(settings(sysctl_overrides={"vm.swappiness": "10", "kernel.sysrq": "176"}))["kernel.sysrq"] == "176"


def test_sysctl_applied_keeps_what_the_kernel_has_netns_only_in_a_container_forwarding_first():
    s = settings(kubernetes_node=True, skip_controls=["SYS-net.ipv4.tcp_rfc1337"])
    present = set(policy.sysctl_wanted(s)) - {"net.bridge.bridge-nf-call-ip6tables"}
    vm = policy.sysctl_applied(s, present, container=False)
    assert list(vm)[:2] == ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]
    assert list(vm)[2:] == sorted(list(vm)[2:])
    assert "kernel.panic" in vm and "net.bridge.bridge-nf-call-ip6tables" not in vm
    assert "net.ipv4.tcp_rfc1337" not in vm  # skipped
    box = policy.sysctl_applied(s, present, container=True)
    assert box and all(k.startswith(("net.ipv4.", "net.ipv6.", "net.bridge.")) for k in box)
    assert "net.core.bpf_jit_harden" not in box  # net.core is the host's
    assert policy.sysctl_applied(s, [], container=False) == {}


def test_modules_blocked():
    s = settings(devices_allowed=["usb_storage"], modules_allowlist=["udf"], skip_controls=["MOD-jffs2"])
    blocked = policy.modules_blocked(s, ["ext4", "hfsplus"])
    assert blocked == sorted(blocked)
    for kept in ("usb-storage", "udf", "hfsplus", "jffs2"):
        assert kept not in blocked
    assert {"dccp", "sctp", "rds", "tipc", "cramfs"} <= set(blocked)
    assert "jffs2" in policy.modules_blocked(s, [], keep_skipped=True)


def test_sensitive_files_per_family_and_skips():
    debian = {f["path"]: f for f in policy.sensitive_files(settings(skip_controls=["FILE-/root"]), "Debian")}
    assert debian["/etc/shadow"] == {"path": "/etc/shadow", "mode": "0640", "owner": "root", "group": "shadow"}
    assert "/root" not in debian and "/boot/grub/grub.cfg" in debian
    redhat = {f["path"]: f for f in policy.sensitive_files(settings(), "RedHat")}
    assert redhat["/etc/gshadow"]["mode"] == "0000" and "/boot/grub2/grub.cfg" in redhat


def test_units_sockets_first_and_container_limits():
    s = settings(skip_controls=["SVC-cups.socket"])
    assert policy.services_disabled(s)[:2] == ["avahi-daemon.socket", "rpcbind.socket"]
    names = [u["name"] for u in policy.units(s, "Debian", container=False)]
    assert "cups.socket" not in names and "auditd.service" in names
    assert {"acct.service", "edgefleet-integrity.timer"} <= set(names)
    box = {u["name"]: u for u in policy.units(s, "Debian", container=True)}
    assert "auditd.service" not in box and "acct.service" not in box
    assert box["chrony.service"] == {"name": "chrony.service", "enabled": True}  # enabled only: no CAP_SYS_TIME
    assert box["apt-daily-upgrade.timer"] == {"name": "apt-daily-upgrade.timer", "enabled": True, "active": True}
    quiet = settings(services_enabled=False, auditd_enabled=False, integrity_enabled=False)
    assert [u["name"] for u in policy.units(quiet, "RedHat", False)] == [
        "chronyd.service", "edgefleet-firewall.service", "dnf-automatic.timer", "psacct.service"]


def lines(rules):
    return [line for rule in rules for line in rule["lines"]]


def test_inbound_rules_of_a_control_node_follow_the_k3s_settings():
    s = settings(kubernetes_node=True, k3s_api_port=7443, management_networks=["10.20.0.0/24", "fd00:20::/64"],
                 cluster_peers=["10.20.0.11", "10.20.0.12"], control_peers=["10.20.0.11"])
    got = lines(policy.inbound_rules(s))
    assert got[:4] == [
        "tcp dport 22 ct state new add @sshlimit4 { ip saddr limit rate over 10/minute burst 20 packets } drop",
        "tcp dport 22 ct state new add @sshlimit6 { ip6 saddr limit rate over 10/minute burst 20 packets } drop",
        "ip saddr @management4 tcp dport 22 accept", "ip6 saddr @management6 tcp dport 22 accept"]
    assert "ip saddr @management4 tcp dport 7443 accept" in got and "ip saddr @nodes4 tcp dport 7443 accept" in got
    assert not [line for line in got if "6443" in line]
    assert "ip saddr @controls4 tcp dport 2379-2380 accept" in got
    assert "ip saddr @controls4 meta l4proto 112 accept" in got
    assert "ip saddr @nodes4 tcp dport 10250 accept" in got and "ip saddr @nodes4 udp dport 8472 accept" in got
    assert "ip saddr @pods4 accept" in got
    assert policy.open_ports(s) == {"tcp": [22, 2379, 2380, 7443, 10250], "udp": [8472]}
    sets = policy.address_sets(s)
    assert sets["management"] == {"ipv4": ["10.20.0.0/24"], "ipv6": ["fd00:20::/64"]}
    assert sets["pods"] == {"ipv4": ["10.42.0.0/16", "10.43.0.0/16"], "ipv6": []}


def test_inbound_rules_of_a_worker_a_plain_host_and_the_options():
    worker = lines(policy.inbound_rules(settings(kubernetes_node=True, kubernetes_control_node=False,
                                                 k3s_flannel_backend="host-gw", ssh_rate_limit="")))
    assert not [line for line in worker if "6443" in line or "2379" in line or "udp" in line]
    assert worker[0] == "tcp dport 22 accept"  # no management networks: SSH from anywhere
    site_rules = [{"port": "4840-4841", "sources": ["10.1.0.0/24", "fd00::/8"]}, {"port": 502, "proto": "udp"}]
    host = policy.inbound_rules(settings(firewall_allowed=site_rules, ssh_rate_limit=""))
    assert lines(host) == ["tcp dport 22 accept", "ip saddr { 10.1.0.0/24 } tcp dport 4840-4841 accept",
                           "ip6 saddr { fd00::/8 } tcp dport 4840-4841 accept", "udp dport 502 accept"]
    assert policy.open_ports(settings()) == {"tcp": [22], "udp": []}  # site rules are not the audit's
    options = lines(policy.inbound_rules(settings(kubernetes_node=True, firewall_longhorn=True, firewall_nodeports=True,
                                                  k3s_flannel_backend="wireguard-native")))
    for wanted in ("ip saddr @nodes4 tcp dport 9500-9504 accept", "tcp dport 30000-32767 accept",
                   "udp dport 30000-32767 accept", "ip saddr @nodes4 udp dport 51821 accept"):
        assert wanted in options
    with pytest.raises(SettingsError, match="k3s_flannel_backend: must be one of vxlan"):
        settings(k3s_flannel_backend="ipsec")


def test_login_defs_and_session_umask():
    assert policy.login_defs(settings()) == {
        "PASS_MAX_DAYS": "365", "PASS_MIN_DAYS": "1", "PASS_WARN_AGE": "7", "UMASK": "027", "ENCRYPT_METHOD": "YESCRYPT",
        "YESCRYPT_COST_FACTOR": "8", "SHA_CRYPT_MIN_ROUNDS": "640000", "SHA_CRYPT_MAX_ROUNDS": "640000"}
    assert policy.session_umask(settings(login_umask="0077")) == "0077"
    assert policy.login_defs(settings(login_umask="0077"))["UMASK"] == "077"
    for raw, name in (({"login_umask": "27"}, "login_umask"), ({"login_umask": "0999"}, "login_umask"),
                      ({"login_yescrypt_cost_factor": 12}, "login_yescrypt_cost_factor"),
                      ({"login_pass_min_days": 400}, "login_pass_min_days"),
                      ({"login_encrypt_method": "MD5"}, "login_encrypt_method"),
                      ({"ssh_rate_limit": "10 per minute"}, "ssh_rate_limit")):
        with pytest.raises(SettingsError) as caught:
            check_settings(raw)
        assert caught.value.name == name


def test_packages_of_the_new_areas_and_accounting_outside_containers():
    debian = policy.packages(settings(), "Debian")
    assert {"libpam-tmpdir", "needrestart", "aide", "acct"} <= set(debian)
    assert debian[-1] == "aide"  # the integrity baseline comes last
    assert "acct" not in policy.packages(settings(), "Debian", container=True)
    assert "psacct" in policy.packages(settings(), "RedHat")


def test_aide_excludes_cover_k3s_and_the_sites_own():
    excludes = policy.aide_excludes(settings(integrity_excludes=["/srv/scratch"]))
    for path in ("!/var/lib/rancher", "!/run/k3s", "!/var/lib/kubelet", "!/var/log/pods", "!/var/log/containers",
                 "!/srv/scratch"):
        assert path in excludes
    assert "!/etc/rancher" not in excludes  # K3s's configuration stays watched; only its kubeconfig is left out


def test_security_sources():
    assert policy.security_sources(settings(), "Debian", "bookworm") == {
        "uri": "http://deb.debian.org/debian-security", "suite": "bookworm-security", "components": "main"}
    assert policy.security_sources(settings(security_archive_uri="http://mirror.plant/debian-security"), "Debian",
                                   "trixie")["uri"] == "http://mirror.plant/debian-security"
    assert policy.security_sources(settings(), "Ubuntu", "noble")["suite"] == "noble-security"
    assert policy.security_sources(settings(), "Raspbian", "bookworm") is None


def test_rate_limit_meters_follow_the_setting():
    assert [m["name"] for m in policy.meters(settings())] == ["sshlimit4", "sshlimit6"]
    assert policy.meters(settings(ssh_rate_limit="")) == []
    assert not [r for r in policy.inbound_rules(settings(ssh_rate_limit="")) if r["comment"].startswith("FW-05")]
