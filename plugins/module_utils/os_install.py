# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The os_install stage's rules: which devices get their OS from the network, their
install plan, and whether the stage still waits for a device's phone-home.

Pure Python, no I/O. The stage plays (discover and os_install) call these
through the ``os_install_*`` filters; the lifecycle itself stays
ztp_model.plan_stage's and the install plan boot_rules'.

A device gets its OS from the network when its record plans an install (the
``edgefleet.io/install`` label) and it has not got its OS yet (boot_rules'
NEEDS_OS states, or failed in discover or os_install). Such a device has nothing
to log in to: the discover stage leaves it to the os_install stage, which
switches its netboot on and waits for its phone-home (the boot server writes
``os_installed``). A device without the label arrives with its OS installed and
is logged in to by discover, as before.
"""

from __future__ import annotations

import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.boot_rules import (
    LABEL,
    NEEDS_OS,
    NETBOOT_RETRY_STAGES,
    install_intent,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import (
    STATES,
    ZtpError,
    check_serial,
    plan_stage,
)

INSTALL_LABEL = LABEL + "install"
# An image name the install plan check stands in for the boot server's default
# (pxe_server_default_image) when the stage is not told it: the server checks it.
SERVER_DEFAULT_IMAGE = "boot-server-default"
# The host variables of the ztp inventory plugin the rules read, without the prefix.
DEVICE_KEYS = ("serial", "mac", "state", "failed_stage", "labels", "os_family", "ip", "hostname")


def device_of(value: t.Any) -> dict:
    """A device record from a ZTP record or from a host's variables (``ztp_`` prefixed)."""
    if not isinstance(value, t.Mapping):
        raise ZtpError("os_install", None, "a device record or a host's variables are required, got %r" % (value,))
    out = {}
    for key in DEVICE_KEYS:
        if ("ztp_" + key) in value:
            out[key] = value["ztp_" + key]
        elif key in value:
            out[key] = value[key]
    return out


def planned_install(device: t.Mapping) -> bool:
    """Whether the record plans a network install (its ``edgefleet.io/install`` label)."""
    labels = device.get("labels") or {}
    return isinstance(labels, t.Mapping) and labels.get(INSTALL_LABEL) not in (None, "")


def needs_os(device: t.Mapping) -> bool:
    """Whether the device waits for its OS from the network (the os_install stage's devices).

    A device of the ZTP database (it has a serial) with a planned install that is
    still before ``os_installed``, or failed in discover or os_install (netboot
    retries those). Decommissioned devices and devices with their OS never do.
    """
    if not device.get("serial") or not planned_install(device):
        return False
    state = device.get("state")
    if state not in STATES:
        raise ZtpError("device %s" % device.get("serial"), "state", "%r is not a lifecycle state" % (state,))
    return state in NEEDS_OS or (state == "failed" and device.get("failed_stage") in NETBOOT_RETRY_STAGES)


def install_plan(device: t.Mapping, default_image: t.Optional[str] = None) -> dict:
    """The device's install plan, checked as the boot server will check it.

    A bad label fails here, naming the device and the label, before the device
    is sent to netboot. Without ``default_image`` (the boot server's
    pxe_server_default_image), a Linux image install without an image label is
    left to the server's default.
    """
    record = dict(device)
    record["serial"] = check_serial("os_install", record.get("serial"))
    where = "device %s" % record["serial"]
    if not record.get("mac"):
        raise ZtpError(where, "mac", "a network install needs the device's boot MAC")
    intent = install_intent(record, default_image or SERVER_DEFAULT_IMAGE)
    image = intent.image if intent.image != SERVER_DEFAULT_IMAGE else None
    return {"serial": record["serial"], "method": intent.method, "image": image, "disk_rule": intent.disk_rule,
            "network": intent.network.mode, "domain": intent.domain}


def phoned_home(device: t.Mapping) -> bool:
    """Whether the os_install stage has nothing left to wait for on the device.

    The stage's own rule decides: a device the stage would still move on success
    (``advanced`` or ``retried``) has not phoned home; one it would keep (its OS
    is installed, or it is further along) has, and a decommissioned one is not
    waited for.
    """
    serial = check_serial("os_install", device.get("serial"))
    plan = plan_stage("os_install", "device %s" % serial, str(device.get("state")), device.get("failed_stage"))
    return plan.action not in ("advanced", "retried")


def waiting(devices: t.Iterable[t.Mapping]) -> t.List[str]:
    """The serials of the devices the os_install stage still waits for, sorted."""
    return sorted(str(d.get("serial")) for d in devices if not phoned_home(d))
