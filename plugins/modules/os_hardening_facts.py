#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: os_hardening_facts
short_description: Read, in one call, the host state the os_hardening role decides on
version_added: 0.2.0
description:
  - Reads what the enforce tasks of C(edgefleet.platform.os_hardening) need to know before they act, and
    compares it with the state asked for, so that a task runs only where something differs. It reads the SSH
    algorithms the installed OpenSSH knows, the live kernel parameters, the state of systemd units,
    and whether files contain a pattern.
  - One module run replaces a probe task per area (and the tasks that would otherwise run just to find
    out there is nothing to do). It never changes anything.
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
    description: Linux hosts with systemd.
options:
  ssh_algorithms:
    description: Return the ciphers, MACs and key exchange algorithms of the installed OpenSSH (C(ssh -Q)).
    type: bool
    default: false
  sysctl:
    description: Kernel parameters (dotted names) and the values wanted; see RV(sysctl).
    type: dict
    default: {}
  units:
    description:
      - systemd units (with their suffix) and the state wanted, each a mapping with C(name) and
        C(enabled), C(active) or both (booleans). Read with one C(systemctl show).
    type: list
    elements: dict
    default: []
  contains:
    description: Name to C({path, regexp}); see RV(contains). A missing file does not contain anything.
    type: dict
    default: {}
  apt_sources:
    description: Return the suites of the APT sources (RV(apt_suites)).
    type: bool
    default: false
  apt_sources_ignore:
    description: APT sources files to leave out of RV(apt_suites) (the role's own).
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: What the host has now
  edgefleet.platform.os_hardening_facts:
    ssh_algorithms: true
    sysctl: {net.ipv4.ip_forward: "1", kernel.kptr_restrict: "2"}
    units:
      - {name: rpcbind.socket, enabled: false, active: false}
      - {name: chrony.service, enabled: true, active: true}
    contains:
      faillock: {path: /etc/pam.d/common-auth, regexp: 'pam_faillock\.so'}
    apt_sources: true
  register: host_state
"""

RETURN = r"""
ssh_algorithms:
  description:
    - C(cipher), C(mac) and C(kex) lists of the installed OpenSSH; null when the C(ssh) client is missing (not
      installed yet), so that nothing is left out of the configuration on the strength of a missing tool.
  returned: when O(ssh_algorithms) is true
  type: dict
  sample: {cipher: [chacha20-poly1305@openssh.com, aes256-gcm@openssh.com], mac: [hmac-sha2-256-etm@openssh.com], kex: [curve25519-sha256]}
sysctl:
  description: What the kernel has of O(sysctl).
  returned: always
  type: dict
  contains:
    present:
      description: Parameter to live value, for the parameters this kernel has.
      type: dict
    differ:
      description: The present parameters whose live value is not the one wanted (whitespace normalised).
      type: list
      elements: str
  sample: {present: {net.ipv4.ip_forward: "0"}, differ: [net.ipv4.ip_forward]}
units_todo:
  description:
    - The units of O(units) not in the state wanted, in input order, each with C(name), C(installed) (whether
      systemd knows the unit), C(enabled) and C(state) (V(started) or V(stopped)) as far as they were asked
      for. A unit that is not installed is listed only when it was asked to be enabled or active.
  returned: always
  type: list
  elements: dict
  sample: [{name: rpcbind.socket, installed: true, enabled: false, state: stopped}]
contains:
  description: Name to whether the file of O(contains) has a line matching the pattern.
  returned: always
  type: dict
  sample: {faillock: false}
apt_suites:
  description:
    - Each APT sources file (C(/etc/apt/sources.list), C(sources.list.d/*.list) and C(*.sources)) and the suites
      of its enabled entries, but those of O(apt_sources_ignore).
  returned: when O(apt_sources) is true
  type: dict
  sample: {/etc/apt/sources.list: [bookworm]}
"""

import re
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_evaluators import (
    FAIL,
    evaluate_service,
    normalise_ws,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_observer import Host, Unobservable

# Where the host's files are read from; the unit tests point it at a fake tree.
HOST_ROOT = "/"
SBIN_DIRS = ["/usr/sbin", "/sbin"]


def sysctl_state(host: Host, wanted: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    present: t.Dict[str, str] = {}
    for key in wanted:
        try:
            present[key] = normalise_ws(host.sysctl(key))
        except Unobservable:
            continue  # not in this kernel
    differ = [k for k, v in present.items() if v != normalise_ws(wanted[k])]
    return {"present": present, "differ": differ}


def units_todo(host: Host, units: t.List[t.Dict[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
    names = [u["name"] for u in units]
    props = host.services(names) if names else {}
    todo = []
    for unit in units:
        control = {k: unit[k] for k in ("enabled", "active") if unit.get(k) is not None}
        observed = props[unit["name"]]
        if isinstance(observed, Unobservable):
            raise observed
        status, _observed, _reason = evaluate_service(control, observed)
        if status == FAIL:
            entry: t.Dict[str, t.Any] = {"name": unit["name"], "installed": observed.get("LoadState") != "not-found"}
            if "enabled" in control:
                entry["enabled"] = control["enabled"]
            if "active" in control:
                entry["state"] = "started" if control["active"] else "stopped"
            todo.append(entry)
    return todo


def contains(host: Host, patterns: t.Dict[str, t.Dict[str, str]]) -> t.Dict[str, bool]:
    found = {}
    for name, spec in patterns.items():
        text = host.read(spec["path"]) or ""
        found[name] = any(re.search(spec["regexp"], line) for line in text.splitlines())
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            ssh_algorithms=dict(type="bool", default=False),
            sysctl=dict(type="dict", default={}),
            units=dict(type="list", elements="dict", default=[]),
            contains=dict(type="dict", default={}),
            apt_sources=dict(type="bool", default=False),
            apt_sources_ignore=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for index, unit in enumerate(p["units"]):
        if not isinstance(unit.get("name"), str) or not unit["name"]:
            module.fail_json(msg="units[%d]: name is required" % index)
        for key in ("enabled", "active"):
            if unit.get(key) is not None and not isinstance(unit[key], bool):
                module.fail_json(msg="units[%d] (%s): %s must be a boolean" % (index, unit["name"], key))
        if unit.get("enabled") is None and unit.get("active") is None:
            module.fail_json(msg="units[%d] (%s): give enabled, active or both" % (index, unit["name"]))
    for name, spec in p["contains"].items():
        if not isinstance(spec, dict) or not spec.get("path") or not spec.get("regexp"):
            module.fail_json(msg="contains.%s: needs path and regexp" % name)
        try:
            re.compile(spec["regexp"])
        except re.error as exc:
            module.fail_json(msg="contains.%s: regexp: %s" % (name, exc))

    def run(argv: t.List[str]) -> t.Tuple[int, str, str]:
        return module.run_command(argv, environ_update={"LC_ALL": "C", "LANG": "C"})

    def which(name: str) -> t.Optional[str]:
        return module.get_bin_path(name, opt_dirs=SBIN_DIRS)

    host = Host(run, which, root=HOST_ROOT)
    result: t.Dict[str, t.Any] = {"changed": False}
    try:
        if p["ssh_algorithms"]:
            ssh = which("ssh")
            algorithms: t.Optional[t.Dict[str, t.List[str]]] = None
            if ssh:
                algorithms = {}
                for kind in ("cipher", "mac", "kex"):
                    rc, out, _err = host.run([ssh, "-Q", kind])
                    algorithms[kind] = out.split() if rc == 0 else []
            result["ssh_algorithms"] = algorithms
        result["sysctl"] = sysctl_state(host, p["sysctl"])
        result["units_todo"] = units_todo(host, p["units"])
        result["contains"] = contains(host, p["contains"])
        if p["apt_sources"]:
            result["apt_suites"] = host.apt_sources(p["apt_sources_ignore"])
    except Unobservable as exc:
        module.fail_json(msg="cannot read the host state: %s" % exc.reason)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
