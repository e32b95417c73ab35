# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""os_install filters; the rules live in module_utils/os_install.py.

Documentation: os_install_needed.yml, os_install_plan.yml and os_install_waiting.yml next to this plugin.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.module_utils import os_install
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import ZtpError


def os_install_needed(device: t.Any) -> bool:
    """Whether the device waits for its OS from the network."""
    try:
        return os_install.needs_os(os_install.device_of(device))
    except ZtpError as exc:
        raise AnsibleFilterError(str(exc)) from None


def os_install_plan(device: t.Any, default_image: t.Any = None) -> dict:
    """The device's install plan, checked; a bad label fails naming the device and the label."""
    try:
        return os_install.install_plan(os_install.device_of(device), str(default_image) if default_image else None)
    except ZtpError as exc:
        raise AnsibleFilterError(str(exc)) from None


def os_install_waiting(devices: t.Any) -> list:
    """The serials of the devices that have not phoned home yet."""
    if not isinstance(devices, t.Sequence) or isinstance(devices, str):
        raise AnsibleFilterError("the input must be a list of devices (ztp_device_info's devices), got %s" % type(devices).__name__)
    try:
        return os_install.waiting(os_install.device_of(d) for d in devices)
    except ZtpError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """os_install filters."""

    def filters(self) -> dict[str, t.Callable]:
        return {"os_install_needed": os_install_needed, "os_install_plan": os_install_plan, "os_install_waiting": os_install_waiting}
