# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardening audit: controls validated, the host observed once per thing, each control judged.

The layers it ties together:

* :mod:`hardening_policy`: the os_hardening settings and what follows from them;
* :mod:`hardening_controls`: the control schema and the role's catalogue (controls from settings);
* :mod:`hardening_observer`: :class:`Host`, what the host shows (commands run once, files read once);
* :mod:`hardening_evaluators`: pure verdicts over that output.

:func:`audit` judges controls given as data; :func:`audit_settings` derives them from the role's
settings first. Nothing here changes the host, and nothing here imports Ansible.
"""

from __future__ import annotations

import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_controls import (
    Context,
    ControlError,
    controls_for,
    expected_of,
    validate_controls,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_evaluators import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    STATUSES,
    WAIVED,
    Outcome,
    evaluate_apt_config,
    evaluate_apt_policy,
    evaluate_audit_rules,
    evaluate_config,
    evaluate_file,
    evaluate_limits,
    evaluate_module_blocked,
    evaluate_nftables,
    evaluate_package_files,
    evaluate_pam,
    evaluate_service,
    evaluate_sshd,
    evaluate_sysctl,
    evaluate_systemd_config,
    module_name,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_observer import Host, Unobservable
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_policy import SettingsError, check_settings

__all__ = ["ControlError", "SettingsError", "Host", "audit", "audit_settings", "observe_and_evaluate"]

SKIP_REASON = "in os_hardening_skip_controls"


def observe_and_evaluate(c: t.Dict[str, t.Any], host: Host) -> Outcome:
    """Run one (validated) control against the host; Unobservable propagates."""
    check = c["check"]
    if check == "sshd":
        return evaluate_sshd(c, host.sshd_settings())
    if check == "sysctl":
        return evaluate_sysctl(c, host.sysctl(c["key"]))
    if check == "module_blocked":
        dry_run, showconfig = host.modprobe_dry_run(c["module"])
        return evaluate_module_blocked(c["module"], dry_run, showconfig, host.loaded_modules())
    if check == "module_loaded":
        present = host.exists("/sys/module/" + module_name(c["module"]))
        return (PASS, "loaded or built in", "") if present else (FAIL, "absent", "not loaded and not built in")
    if check == "file":
        info = host.stat(c["path"])
        return evaluate_file(c, info, host.read(c["path"]) if "contains" in c or "lines" in c else None)
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
    if check == "package_files":
        return evaluate_package_files(c, *host.package_files())
    if check == "apt_policy":
        return evaluate_apt_policy(c, host.apt_policy())
    raise AssertionError(check)  # pragma: no cover  (validated before)


def audit(controls: t.Any, host: Host, container: t.Optional[bool] = None,
          skip: t.Iterable[str] = ()) -> t.Dict[str, t.Any]:
    """Validate all controls first (nothing is observed for bad input), then evaluate them in order.
    The controls whose id is in ``skip`` are not observed and are reported as waived."""
    checked = validate_controls(controls)
    skip = set(skip)
    if container is None:
        container = host.is_container()
    host.service_units = list(dict.fromkeys(c["name"] for c in checked if c["check"] == "service" and c["id"] not in skip))
    results = []
    for c in checked:
        if c["id"] in skip:
            status, observed, reason = WAIVED, None, SKIP_REASON
        elif "when_present" in c and not host.exists(c["when_present"]):
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


def audit_settings(settings: t.Any, host: Host, os_family: t.Optional[str] = None, container: t.Optional[bool] = None,
                   extra: t.Optional[t.List[t.Any]] = None) -> t.Dict[str, t.Any]:
    """Audit the controls the role's catalogue derives from its settings (plus ``extra`` controls given as
    data) for this host: its OS family (detected when not given), whether it is a container (detected
    when not given) and the filesystems it has mounted (never blocked)."""
    s = check_settings(settings)
    if os_family is None:
        os_family = host.os_family()
    if container is None:
        container = host.is_container()
    context = Context(os_family, container, host.mounted_fstypes() if s["modules_enabled"] else ())
    return audit(controls_for(s, context) + list(extra or []), host, container, skip=s["skip_controls"])
