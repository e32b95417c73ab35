# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge sizing filters; the logic and tables live in module_utils/sizing.py.

Documentation: one YAML file per filter next to this plugin.
"""

from __future__ import annotations

import functools
import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.module_utils import sizing


def _filter(func: t.Callable) -> t.Callable:
    """Wrap a sizing function so bad input surfaces as a filter error naming
    the filter and the input, not as a Python traceback."""

    @functools.wraps(func)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except sizing.SizingError as exc:
            # Ansible prefixes the filter name; chaining would repeat the message.
            raise AnsibleFilterError(str(exc)) from None

    return wrapper


FILTERS: dict[str, t.Callable[..., t.Any]] = {
    "workload_resources": sizing.workload_resources,
    "node_requirements": sizing.node_requirements,
    "sizing_report": sizing.sizing_report,
    "enforce_sizing": sizing.enforce_sizing,
    "cluster_sizing": sizing.cluster_sizing,
    "storage_policy": sizing.storage_policy,
    "fleet_sizing": sizing.fleet_sizing,
}


class FilterModule:
    """Edge sizing filters."""

    def filters(self) -> dict[str, t.Callable]:
        return {name: _filter(func) for name, func in FILTERS.items()}
