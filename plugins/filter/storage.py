# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Storage decision filters; the rules live in module_utils/storage*.py.

Documentation: one YAML file per filter next to this plugin (storage_plan.yml, ...).
"""

from __future__ import annotations

import functools
import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.module_utils import storage, storage_disks, storage_engines, storage_health


def _filter(func: t.Callable) -> t.Callable:
    """Bad input and refusals surface as a filter error with the rule's message."""

    @functools.wraps(func)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except (storage_engines.StorageError, storage_disks.DiskError) as exc:
            # Ansible prefixes the filter name; chaining would repeat the message.
            raise AnsibleFilterError(str(exc)) from None

    return wrapper


def storage_disk_actions(lsblk: t.Any, disks: t.Any, engine: t.Any, host: t.Any = "") -> list[dict[str, t.Any]]:
    """One decision per disk: lsblk[i] is what the device reports for disks[i]."""
    return storage_disks.disk_actions(lsblk, disks, str(engine), str(host))


def storage_disk_records(value: t.Any, host: t.Any = "") -> list[dict[str, t.Any]]:
    return storage.check_disks(str(host), value)


def storage_kernel_check(release: t.Any, engine: t.Any) -> dict[str, list[str]]:
    return storage_engines.kernel_check(release, str(engine))


def storage_host_prereqs(facts: t.Any, engine: t.Any) -> dict[str, t.Any]:
    facts = facts if isinstance(facts, t.Mapping) else {}
    return storage_engines.host_prereqs(str(engine), facts.get("virtualization_role"), facts.get("virtualization_type"))


def storage_multipath_plan(maps: t.Any, installed: t.Any) -> dict[str, t.Any]:
    return storage_engines.multipath_plan(bool(installed), maps)


def storage_node_health(probe: t.Any, engine: t.Any, host: t.Any, options: t.Any = None) -> dict[str, t.Any]:
    return storage_health.node_health(probe, engine, host, options)


def storage_volume_health(resources: t.Any, engine: t.Any, kubeconfig: t.Any = "") -> dict[str, t.Any]:
    return storage_health.volume_health(resources, engine, kubeconfig)


def storage_initiator_plan(members: t.Any, host: t.Any, path: t.Any = storage_health.INITIATOR_FILE) -> dict[str, t.Any]:
    return storage_health.initiator_plan(members, host, str(path))


def storage_initiator_file(name: t.Any) -> str:
    return storage_health.initiator_file(name)


FILTERS: dict[str, t.Callable[..., t.Any]] = {
    "storage_host_prereqs": storage_host_prereqs,
    "storage_multipath_plan": storage_multipath_plan,
    "storage_plan": storage.storage_plan,
    "storage_disk_actions": storage_disk_actions,
    "storage_disk_records": storage_disk_records,
    "storage_kernel_check": storage_kernel_check,
    "storage_helm_chart": storage.helm_chart,
    "storage_node_health": storage_node_health,
    "storage_volume_health": storage_volume_health,
    "storage_initiator_plan": storage_initiator_plan,
    "storage_initiator_file": storage_initiator_file,
}


class FilterModule:
    """Storage decision filters."""

    def filters(self) -> dict[str, t.Callable]:
        return {name: _filter(func) for name, func in FILTERS.items()}
