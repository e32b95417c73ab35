# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Discover filter; the logic lives in module_utils/discover.py.

Documentation: discover_observe.yml and discover_identity.yml next to this plugin.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.module_utils import discover


def discover_observe(facts: t.Any, placeholders: t.Any = discover.SERIAL_PLACEHOLDERS) -> dict[str, t.Any]:
    """What a host reports about itself, from its ansible_facts."""
    try:
        return discover.observe(facts, placeholders)
    except discover.DiscoverError as exc:
        # Ansible prefixes the filter name; chaining would repeat the message.
        raise AnsibleFilterError(str(exc)) from None


def discover_identity(observed: t.Any, serial: t.Any, mac: t.Any, host: t.Any = "", address: t.Any = "") -> str:
    """Why a host is not the IPC of its ZTP record, or '' when it is."""
    if not isinstance(observed, t.Mapping):
        raise AnsibleFilterError("the input must be what discover_observe returns, got %s" % type(observed).__name__)
    return discover.identity_problem(observed, serial, mac, str(host), str(address))


class FilterModule:
    """Discover filter."""

    def filters(self) -> dict[str, t.Callable]:
        return {"discover_observe": discover_observe, "discover_identity": discover_identity}
