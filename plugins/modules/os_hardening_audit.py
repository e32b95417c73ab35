#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: os_hardening_audit
short_description: Audit a Linux host against hardening controls
version_added: 0.1.0
description:
  - Evaluates hardening controls, given as data, against the host and returns a compliance report with
    each control's status, expected and observed value. It never changes anything.
  - With O(settings) (the variables of the role C(edgefleet.platform.os_hardening) without their
    C(os_hardening_) prefix), the module derives every control of the role's catalogue and its expected value
    from them, for this host (its OS family, whether it is a container, the filesystems it has mounted).
    The role uses it so for its C(audit) mode and to verify the end state after C(enforce).
  - With O(controls), it audits controls given as data, alone or added to those of O(settings).
  - Each kind of state is observed once and shared by all controls that need it (one C(sshd -T), one
    C(systemctl show) for all units, one C(nft -j list table) per table, one C(apt-config dump),
    one C(auditctl -l)).
  - All controls are validated before anything is observed; an unknown check type, a missing or
    mistyped field fails the module with the control id and the field named.
author:
  - Edgefleet platform team (@edgefleet)
attributes:
  check_mode:
    support: full
    description: Read only; check mode runs the same reads.
  diff_mode:
    support: none
    description: Read only.
  platform:
    platforms: posix
    support: full
    description: Linux hosts.
options:
  settings:
    description:
      - "The os_hardening role's settings, each variable without its C(os_hardening_) prefix, for example
        C({ssh_max_auth_tries: 3, kubernetes_node: true, skip_controls: [SSH-07]}); settings not given take
        the role's defaults. The role passes all of them, with C(cluster_peers) and C(control_peers) (the
        cluster members' addresses it computes from the inventory)."
      - An unknown setting or a value of the wrong type fails the module naming the setting.
      - The controls of C(skip_controls) are not observed and are reported as V(waived).
      - One of O(settings) and O(controls) is required.
    type: dict
  os_family:
    description:
      - OS family (V(Debian) or V(RedHat)) whose names the O(settings) controls use (PAM files, services).
      - Detected from C(/etc/os-release) when not given.
    type: str
  controls:
    description:
      - Controls given as data, evaluated and reported in this order (after those of O(settings)).
      - "Every control has C(id) (unique, for example V(SSH-01)), C(area), C(title) and C(check), the check
        type, plus the keys of its type below. Other keys are ignored, so the caller can keep enforcement
        data in the same mapping."
      - "Optional C(waive_in_container): a reason. On a container a pass or fail becomes V(waived) with that
        reason, and the observed value is still reported (for kernel-global state a container shares with
        its host); when nothing could be observed, the error is the observed value."
      - "Optional C(when_present): an absolute path. The control is V(not_applicable) when it does not exist."
      - "V(sshd): C(key), a lower-case C(sshd -T) keyword, and exactly one of C(expected) (compared
        case-insensitively; V(without-password) and V(prohibit-password) are the same for
        C(permitrootlogin)), C(allowed) (every observed item must be in the list) or C(required) (every
        item of the list must be observed, for example C(allowgroups)). Observed with a plain C(sshd -T),
        so C(Match) blocks are not applied. Not applicable when C(sshd) is not installed."
      - "V(sysctl): C(key) (dotted, or a path under C(/proc/sys)) and C(expected), compared with whitespace
        normalised. Read from C(/proc/sys); not applicable when this kernel has no such key."
      - "V(module_blocked): C(module). Passes when C(modprobe -n -v) shows an C(install /bin/false) (or
        C(/bin/true), C(/usr/bin/false), C(/usr/bin/true)) for it; when modprobe cannot find the module
        for the running kernel, when C(modprobe --showconfig) has such an C(install) line or a C(blacklist)
        line for it (the observed value says which). Fails when the module is loaded now, when it is built
        into the kernel and when C(modprobe) is missing."
      - "V(module_loaded): C(module). Passes when C(/sys/module/<module>) exists (loaded or built in)."
      - "V(file): C(path) and optionally C(mode) (the most permissive mode allowed, as an octal string:
        V(0640) passes 0600 and 0640 but not 0644), C(owner), C(group) (names or numeric ids), C(contains)
        (a substring) and C(lines) (lines that must all be in the file, surrounding spaces ignored). A missing
        file fails (use C(when_present) to make it not applicable)."
      - "V(service): C(name), the unit with its suffix (V(rpcbind.socket)), and C(enabled), C(active) or
        both (booleans). Enabled means what C(systemctl is-enabled) treats as enabled (including static,
        indirect, alias, generated); masked is disabled. A unit that is not installed passes when nothing
        asks for it to be enabled or active (reason V(not installed)) and fails otherwise."
      - "V(nftables): C(family), C(table) and at least one of C(chains) (chain name to expected policy, for
        example C({input: drop, forward: drop})), C(tcp_ports) and C(udp_ports) (ports that must be
        accepted by a rule reachable from the table's input chain, following jumps; single values, sets,
        named sets and ranges count). C(rate_limited) lists tcp ports whose new connections a rule of the input
        chain drops over a per-source rate (a dynamic set or meter with C(limit rate over), then drop or reject).
        A missing table fails."
      - "V(config): C(path), C(key), C(expected) and optionally C(include) (a glob of files read after
        C(path) in sorted order), C(separator) (default V(=) or whitespace), C(section) (for ini-style
        files). Lines starting with C(#) or C(;) are comments; the last value wins (not so in
        C(sshd_config), where the first wins: use V(sshd) there); values are compared with whitespace
        normalised, case-sensitively, quotes included."
      - "V(systemd_config): C(config) (for example V(systemd/journald.conf)), C(section), C(key),
        C(expected). The last value of the key in the section of C(systemd-analyze cat-config <config>),
        drop-ins included. Fails when the key is set nowhere (the built-in default applies)."
      - "V(apt_config): C(key), C(expected). From C(apt-config dump), keys compared case-insensitively.
        Not applicable when C(apt-config) is missing."
      - "V(pam): C(file), C(module) (for example V(pam_faillock.so)) and optionally C(args), substrings that
        must all appear on one line of the module. C(@include), C(include) and C(substack) are followed."
      - "V(audit_rules): C(keys). Every key must be on a loaded rule (C(-k key) or C(key=key) in
        C(auditctl -l)). Fails with the error when C(auditctl) is missing or auditing is unavailable."
      - "V(package_files): no fields. C(dpkg --verify) of every installed package; a changed checksum or a
        missing file fails, except configuration files and paths the C(path-exclude) lines of dpkg's
        configuration leave out. Not applicable without C(dpkg)."
      - "V(apt_policy): C(suite_suffix). Passes when an archive APT has indexes for (C(apt-cache policy)) has a
        suite (C(n=)) or archive (C(a=)) ending in it, for example V(-security). Not applicable without APT."
      - "V(limits): C(domain), C(type) (V(hard), V(soft) or V(-) for both), C(item), C(expected). From
        C(/etc/security/limits.conf) then C(/etc/security/limits.d/*.conf) in sorted order; the last line
        for exactly that domain wins (group and wildcard domains are not resolved)."
    type: list
    elements: dict
  container:
    description:
      - Whether the host is a container, which decides C(waive_in_container).
      - V(auto) detects one from C(/run/.containerenv), C(/.dockerenv) or C(container=) in the environment
        of PID 1.
    type: str
    choices: [auto, 'yes', 'no']
    default: auto
notes:
  - Run it with become; C(sshd -T), C(auditctl -l) and some files need root.
"""

EXAMPLES = r"""
- name: Audit a K3s node against the os_hardening catalogue, stricter on SSH than the role's defaults
  edgefleet.platform.os_hardening_audit:
    settings:
      kubernetes_node: true
      ssh_max_auth_tries: 2
      management_networks: [10.20.0.0/24]
      skip_controls: [SVC-cups.service]
  become: true
  register: k3s_node_audit

- name: Audit SSH, kernel and firewall controls
  edgefleet.platform.os_hardening_audit:
    controls:
      - id: SSH-01
        area: ssh
        title: No password authentication
        check: sshd
        key: passwordauthentication
        expected: "no"
      - id: SSH-05
        area: ssh
        title: Modern ciphers only
        check: sshd
        key: ciphers
        allowed: [chacha20-poly1305@openssh.com, aes256-gcm@openssh.com, aes128-gcm@openssh.com]
      - id: SYS-01
        area: sysctl
        title: Reverse path filtering
        check: sysctl
        key: net.ipv4.conf.all.rp_filter
        expected: "1"
        waive_in_container: kernel-global, set on the container host
      - id: MOD-01
        area: modules
        title: cramfs cannot be loaded
        check: module_blocked
        module: cramfs
      - id: FW-01
        area: firewall
        title: Default-deny inbound with SSH and the K3s API open
        check: nftables
        family: inet
        table: edgefleet
        chains: {input: drop}
        tcp_ports: [22, 6443]
      - id: SVC-01
        area: services
        title: rpcbind off
        check: service
        name: rpcbind.socket
        enabled: false
        active: false
      - id: LOG-01
        area: logging
        title: Persistent journal
        check: systemd_config
        config: systemd/journald.conf
        section: Journal
        key: Storage
        expected: persistent
  become: true
  register: audit

- name: Fail when a control fails
  ansible.builtin.assert:
    that: audit.report.failed_ids | length == 0
    fail_msg: "failed controls: {{ audit.report.failed_ids | join(', ') }}"
"""

RETURN = r"""
report:
  description: The compliance report.
  returned: success
  type: dict
  contains:
    container:
      description: Whether the host was treated as a container.
      type: bool
      returned: success
    summary:
      description: Number of controls per status, with the keys V(pass), V(fail), V(waived) and V(not_applicable).
      type: dict
      returned: success
    failed_ids:
      description: Ids of the controls that failed, in input order.
      type: list
      elements: str
      returned: success
    controls:
      description: One entry per control, in input order.
      type: list
      elements: dict
      returned: success
      contains:
        id: {description: Control id., type: str, returned: success}
        area: {description: Control area., type: str, returned: success}
        title: {description: Control title., type: str, returned: success}
        status:
          description: V(pass), V(fail), V(waived) or V(not_applicable).
          type: str
          returned: success
        expected:
          description: What the control expects (a string, or a mapping of the control's expectations).
          type: raw
          returned: success
        observed:
          description: What was observed (null when nothing could be observed).
          type: raw
          returned: success
        reason:
          description: Why the control failed, was waived or is not applicable; empty or a short note when it passed.
          type: str
          returned: success
  sample:
    container: true
    summary: {pass: 1, fail: 1, waived: 1, not_applicable: 0}
    failed_ids: [SSH-01]
    controls:
      - {id: SSH-01, area: ssh, title: No password authentication, status: fail,
         expected: "no", observed: "yes", reason: passwordauthentication is yes}
      - {id: SYS-01, area: sysctl, title: Reverse path filtering, status: waived, expected: "1", observed: "2",
         reason: "kernel-global, set on the container host"}
      - {id: FW-01, area: firewall, title: Default-deny inbound, status: pass,
         expected: {chains: {input: drop}, tcp_ports: [22]},
         observed: {chains: {input: drop, forward: drop}, tcp_ports: [22, 6443, "30000-32767"]}, reason: ""}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_checks import (
    ControlError,
    Host,
    SettingsError,
    audit,
    audit_settings,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_observer import Unobservable

# Where the host's files are read from; the unit tests point it at a fake tree.
HOST_ROOT = "/"
SBIN_DIRS = ["/usr/sbin", "/sbin"]


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict"),
            os_family=dict(type="str"),
            controls=dict(type="list", elements="dict"),
            container=dict(type="str", choices=["auto", "yes", "no"], default="auto"),
        ),
        required_one_of=[("settings", "controls")],
        supports_check_mode=True,
    )

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C", "LANG": "C"})

    def which(name):
        return module.get_bin_path(name, opt_dirs=SBIN_DIRS)

    container = {"auto": None, "yes": True, "no": False}[module.params["container"]]
    host = Host(run, which, root=HOST_ROOT)
    p = module.params
    try:
        if p["settings"] is not None:
            report = audit_settings(p["settings"], host, os_family=p["os_family"], container=container,
                                    extra=p["controls"])
        else:
            report = audit(p["controls"], host, container=container)
    except SettingsError as exc:
        module.fail_json(msg="settings.%s" % exc, setting=exc.name)
    except ControlError as exc:
        module.fail_json(msg=str(exc), control=exc.control_id, field=exc.field)
    except Unobservable as exc:
        module.fail_json(msg=exc.reason)
    module.exit_json(changed=False, report=report)


if __name__ == "__main__":
    main()
