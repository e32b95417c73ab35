#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ztp_boot
short_description: Claim machines that network-booted unknown, switch a device's netboot
version_added: 0.1.0
description:
  - The operator's side of the network boot (the C(edgefleet.platform.pxe_server) role's boot server).
  - With O(mac) and O(serial), claims a machine the boot server recorded as C(unassigned) for a planned device;
    its MAC is added to the device, which installs at its next boot.
  - With O(serial) and O(netboot), switches network boot on (for example to reinstall, with the device moved to
    C(registered) by M(edgefleet.platform.ztp_device)) or off. A phone-home switches it off by itself.
  - Always returns the machines that wait C(unassigned).
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.ztp_database
attributes:
  check_mode:
    support: full
    description: Nothing is committed in check mode; the result says what would change.
  diff_mode:
    support: none
    description: Not supported.
options:
  mac:
    description: The MAC of a machine the boot server recorded; with O(serial), claims it for that device.
    type: str
  serial:
    description: The device's serial.
    type: str
  netboot:
    description: Switch the device's network boot on or off.
    type: bool
  actor:
    description: Who claims, for the device's event log (default C(ansible:<user>)).
    type: str
notes:
  - "The module must run where the ZTP database is reachable, usually the controller (C(delegate_to: localhost))."
"""

EXAMPLES = r"""
- name: Machines waiting to be claimed
  edgefleet.platform.ztp_boot:
  delegate_to: localhost
  register: boot

- name: Claim one for its planned record
  edgefleet.platform.ztp_boot:
    mac: "52:54:00:aa:bb:cc"
    serial: SN-0042
  delegate_to: localhost

- name: Reinstall a device at its next boot
  edgefleet.platform.ztp_boot:
    serial: SN-0042
    netboot: true
  delegate_to: localhost
"""

RETURN = r"""
machine:
  description: The claimed machine.
  returned: when O(mac) is given
  type: dict
  sample: {mac: "52:54:00:aa:bb:cc", status: linked, device: SN-0042, serial: "To Be Filled", seen: 3}
netboot:
  description: The device's netboot flag after the call.
  returned: when O(netboot) is given
  type: bool
unassigned:
  description: Machines that network-booted with an unknown MAC and wait for an operator, with what iPXE reported.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_module import DATABASE_ARGSPEC, default_actor, run_module


def main() -> None:
    spec: dict = dict(mac=dict(type="str"), serial=dict(type="str"), netboot=dict(type="bool"), actor=dict(type="str"))
    spec.update(DATABASE_ARGSPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_by={"mac": ("serial",), "netboot": ("serial",)}, mutually_exclusive=[("mac", "netboot")])
    params = module.params

    def work(store):
        boot = BootStore(store)
        result: dict = dict(changed=False)
        if params["mac"]:
            machine = boot.claim(params["mac"], params["serial"], params["actor"] or default_actor())
            result["changed"] = machine.pop("changed")
            result["machine"] = machine
        elif params["netboot"] is not None:
            result["changed"] = boot.set_netboot(params["serial"], params["netboot"])
            result["netboot"] = params["netboot"]
        result["unassigned"] = boot.machines("unassigned")
        return result

    run_module(module, work)


if __name__ == "__main__":
    main()
