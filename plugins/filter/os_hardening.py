# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The os_hardening role's policy on the controller; the rules live in module_utils/hardening_policy.py
and module_utils/hardening_controls.py (the audit module derives its controls from the same code).

Documentation: os_hardening_policy.yml next to this plugin.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.module_utils import hardening_controls as controls
from ansible_collections.edgefleet.platform.plugins.module_utils import hardening_policy as policy


def os_hardening_policy(settings: t.Any, host: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
    """What the enforce tasks apply on one host, from the role's settings and what is known of the host."""
    host = dict(host or {})
    try:
        s = policy.check_settings(settings)
        os_family = host.get("os_family") or ""
        names = policy.os_names(os_family)
        container = policy.is_container(host.get("virtualization_role"), host.get("virtualization_type"))
        fstypes = host.get("mounted_fstypes") or []
        areas = policy.enabled_areas(s)
        present = host.get("sysctl_present")
        suites = host.get("apt_suites")
        # the role's security source is written only where no other source has the security suite
        security = None
        if os_family == "Debian" and "updates" in areas and suites is not None and not any(
                suite.endswith("-security") for found in suites.values() for suite in found):
            security = policy.security_sources(s, host.get("distribution") or "", host.get("distribution_release") or "")
        return {
            "os": names,
            "container": container,
            "areas": areas,
            "packages": policy.packages(s, os_family, container),
            "sysctl": policy.sysctl_wanted(s),
            # [key, value] pairs in the order they are written; empty until the host's keys are known
            "sysctl_applied": [[k, v] for k, v in policy.sysctl_applied(s, present or [], container).items()],
            "modules_blocked": policy.modules_blocked(s, fstypes),
            "modules_kubernetes": list(policy.MODULES_KUBERNETES) if s["kubernetes_node"] else [],
            "load_modules": s["kubernetes_node"] and "modules" in areas and not container,
            "sensitive_files": policy.sensitive_files(s, os_family),
            "units": policy.units(s, os_family, container),
            "sshd_config": controls.sshd_config(s, host.get("ssh_algorithms")),
            "open_ports": policy.open_ports(s),
            "firewall": {"sets": policy.address_sets(s), "meters": policy.meters(s), "input": policy.inbound_rules(s)},
            "login_defs": policy.login_defs(s),
            "session_umask": policy.session_umask(s),
            "aide": {"conf": policy.AIDE_CONF, "db": policy.AIDE_DB, "contents": list(policy.AIDE_CONTENTS),
                     "metadata": list(policy.AIDE_METADATA), "excludes": policy.aide_excludes(s)},
            "security_sources": security,
            "security_sources_file": policy.SECURITY_SOURCES,
            "needrestart_conf": policy.NEEDRESTART_CONF,
            "firewall_file": policy.FIREWALL_FILE,
        }
    except policy.SettingsError as exc:
        # the role's variables carry the prefix the settings drop
        raise AnsibleFilterError("os_hardening_%s" % exc) from None


class FilterModule:
    """os_hardening filters."""

    def filters(self) -> t.Dict[str, t.Callable]:
        return {"os_hardening_policy": os_hardening_policy}
