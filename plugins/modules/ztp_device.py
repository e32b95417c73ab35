#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ztp_device
short_description: Create or update ZTP devices, record their facts and move their lifecycle state
version_added: 0.1.0
description:
  - Creates a device in the ZTP database or updates the fields given, keeping the others.
  - Records hardware facts (O(hardware), O(facts)) and moves the device through the zero-touch lifecycle
    C(registered) -> C(discovered) -> C(os_installed) -> C(configured) -> C(platform_ready) ->
    C(workloads_deployed) -> C(operational), plus C(failed) and C(decommissioned). Every state change is
    appended to the device's event log with who made it and why.
  - Illegal transitions fail with a message naming the device, its state and the requested one.
  - Several devices can be written in one call and one transaction with O(devices), which is how
    playbooks write back a whole stage for hundreds of hosts at once (C(run_once) on the controller).
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.ztp_database
attributes:
  check_mode:
    support: full
    description: Changes are made in a transaction that is rolled back.
  diff_mode:
    support: full
    description: Before and after of every changed device.
options:
  serial:
    description:
      - Serial number of the device, its immutable key.
      - Mutually exclusive with O(devices); one of them is required.
    type: str
  devices:
    description:
      - A batch of devices, each a mapping with O(serial) and any of the other device options
        (O(mac), O(macs), O(hostname), O(site), O(cluster), O(role), O(os_family), O(ip),
        O(hardware), O(labels), O(facts), O(state), O(stage), O(reason)).
      - Written in one transaction; one invalid entry fails the whole batch.
    type: list
    elements: dict
  mac:
    description: Primary boot MAC, in any common notation; stored in lower-case colon form.
    type: str
  macs:
    description: The device's other MAC addresses (replaces the stored list).
    type: list
    elements: str
  hostname:
    description:
      - Hostname; derived from site, role and serial when a new device has none.
      - Frozen once the device is past C(configured).
    type: str
  site:
    description: Site of the device; required for a new device.
    type: str
  cluster:
    description: Cluster of the device; must belong to the device's site.
    type: str
  role:
    description: Node role; required for a new device.
    type: str
    choices: [control, worker]
  os_family:
    description: Operating system family; new devices default to V(linux).
    type: str
    choices: [linux, windows]
  ip:
    description: Management IP address. An empty string clears it.
    type: str
  hardware:
    description: Hardware facts; the keys given replace the stored ones.
    type: dict
    suboptions:
      cpu_cores:
        description: Number of CPU cores.
        type: int
      memory_mb:
        description: Memory in MiB, as Ansible's C(ansible_memtotal_mb) reports it.
        type: int
      disk_gb:
        description: Size of the system disk in GiB.
        type: float
      disk_type:
        description: Kind of the system disk.
        type: str
        choices: [ssd, nvme, hdd]
  labels:
    description: Labels to set; merged into the stored ones unless O(purge_labels=true).
    type: dict
  purge_labels:
    description: Replace the stored labels with O(labels) instead of merging.
    type: bool
    default: false
  facts:
    description: Discovered facts (NICs, disks, DMI) kept with the device; replaces the stored facts.
    type: dict
  storage:
    description:
      - "The device's dedicated storage disks, C({disks: [{id, wipe_allowed}]}); replaces the stored ones."
      - C(id) is a C(/dev/disk/by-id/) name (a bare name gets the prefix); C(wipe_allowed) (default false) lets the
        storage stage wipe a disk that holds data. Read by the storage stage (C(ztp_storage) in the inventory).
    type: dict
  state:
    description:
      - Lifecycle state to move the device to.
      - From C(failed), a device may go to the state of the failed stage (the retry succeeded) or to the
        state before it (the stage is run again).
    type: str
    choices: [registered, discovered, os_installed, configured, platform_ready, workloads_deployed, operational, failed, decommissioned]
  stage:
    description:
      - With O(state=failed), the stage that failed. Defaults to the stage the device was working on.
    type: str
    choices: [discover, os_install, configure, platform, storage, cloud, workloads, handoff]
  reason:
    description: Why, recorded in the event log (and as the failure reason for O(state=failed)).
    type: str
  actor:
    description: Who made the change, recorded in the event log. Defaults to C(ansible:<user>).
    type: str
"""

EXAMPLES = r"""
- name: Record discovered hardware and move the device on
  edgefleet.platform.ztp_device:
    serial: "{{ ztp_serial }}"
    hardware:
      cpu_cores: "{{ ansible_facts.processor_vcpus }}"
      memory_mb: "{{ ansible_facts.memtotal_mb }}"
    state: discovered
    reason: discover stage
  delegate_to: localhost

- name: Write back a whole stage in one transaction
  edgefleet.platform.ztp_device:
    devices: "{{ ansible_play_hosts | map('extract', hostvars, 'ztp_writeback') | list }}"
  delegate_to: localhost
  run_once: true

- name: Mark a device failed in the configure stage
  edgefleet.platform.ztp_device:
    serial: SN-0001
    state: failed
    stage: configure
    reason: sshd -t rejected the new configuration
  delegate_to: localhost
"""

RETURN = r"""
device:
  description: The device after the change (with O(serial)).
  returned: when O(serial) is given
  type: dict
  contains:
    serial: {description: Serial number., type: str, returned: always}
    mac: {description: Primary MAC., type: str, returned: always}
    macs: {description: Other MACs., type: list, elements: str, returned: always}
    hostname: {description: Hostname., type: str, returned: always}
    site: {description: Site., type: str, returned: always}
    cluster: {description: Cluster., type: str, returned: always}
    role: {description: Node role., type: str, returned: always}
    os_family: {description: OS family., type: str, returned: always}
    ip: {description: Management IP., type: str, returned: always}
    hardware: {description: Hardware facts., type: dict, returned: always}
    storage: {description: "Dedicated storage disks, C({disks: [{id, wipe_allowed}]})", type: dict, returned: always}
    labels: {description: Labels., type: dict, returned: always}
    state: {description: Lifecycle state., type: str, returned: always}
    failed_stage: {description: "The stage that failed, when O(state=failed).", type: str, returned: always}
    revision: {description: Counter increased by every change., type: int, returned: always}
  sample:
    serial: SN-0001
    mac: "00:11:22:33:44:55"
    hostname: plant-a-c-sn0001
    state: discovered
created:
  description: Serials of the devices created.
  returned: always
  type: list
  elements: str
  sample: [SN-0001]
updated:
  description: Serials of the devices updated.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import (
    DISK_TYPES,
    HARDWARE_FIELDS,
    OS_FAMILIES,
    ROLES,
    STAGES,
    STATES,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_module import (
    DATABASE_ARGSPEC,
    default_actor,
    run_module,
)

FIELDS = ("mac", "macs", "hostname", "site", "cluster", "role", "os_family", "ip", "hardware", "labels",
          "facts", "storage", "state", "stage", "reason")
# Option types of the hardware fields (ztp_model names them and checks the values).
HARDWARE_TYPES = {"cpu_cores": "int", "memory_mb": "int", "disk_gb": "float", "disk_type": "str"}
HARDWARE_CHOICES = {"disk_type": DISK_TYPES}


def hardware_options() -> dict:
    options: dict = {}
    for field in HARDWARE_FIELDS:
        options[field] = dict(type=HARDWARE_TYPES[field])
        if field in HARDWARE_CHOICES:
            options[field]["choices"] = list(HARDWARE_CHOICES[field])
    return options


def argument_spec() -> dict:
    """The options; every choice list comes from ztp_model (DOCUMENTATION repeats them, a unit test compares)."""
    spec = dict(
        serial=dict(type="str"),
        devices=dict(type="list", elements="dict"),
        mac=dict(type="str"),
        macs=dict(type="list", elements="str"),
        hostname=dict(type="str"),
        site=dict(type="str"),
        cluster=dict(type="str"),
        role=dict(type="str", choices=list(ROLES)),
        os_family=dict(type="str", choices=list(OS_FAMILIES)),
        ip=dict(type="str"),
        hardware=dict(type="dict", options=hardware_options()),
        labels=dict(type="dict"),
        purge_labels=dict(type="bool", default=False),
        facts=dict(type="dict"),
        storage=dict(type="dict"),
        state=dict(type="str", choices=list(STATES)),
        stage=dict(type="str", choices=list(STAGES)),
        reason=dict(type="str"),
        actor=dict(type="str"),
    )
    spec.update(DATABASE_ARGSPEC)
    return spec


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("serial", "devices")] + [("devices", f) for f in FIELDS],
        required_one_of=[("serial", "devices")],
        supports_check_mode=True,
    )
    params = module.params
    if params["serial"] is not None:
        single = dict((k, params[k]) for k in FIELDS if params[k] is not None)
        single["serial"] = params["serial"]
        if "hardware" in single:
            single["hardware"] = dict((k, v) for k, v in single["hardware"].items() if v is not None)
        batch = [single]
    else:
        batch = params["devices"]

    def work(store):
        outcome = store.save_devices(batch, params["actor"] or default_actor(), purge_labels=params["purge_labels"])
        created, updated = outcome["created"]["devices"], outcome["updated"]["devices"]
        result = dict(changed=bool(created or updated), created=created, updated=updated)
        if params["serial"] is not None:
            found = store.devices(serial=[params["serial"]])
            result["device"] = found[0] if found else {}
        if module._diff and result["changed"]:
            result["diff"] = dict(before=outcome["diff"]["before"].get("devices", {}),
                                  after=outcome["diff"]["after"].get("devices", {}))
        return result

    run_module(module, work)


if __name__ == "__main__":
    main()
