#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ztp_device_info
short_description: Query devices in the ZTP database
version_added: 0.1.0
description:
  - Returns devices of the ZTP database, filtered by site, region, cluster, lifecycle state or serial,
    with their site, region and cluster joined in and optionally their event log.
  - Filters of different kinds are combined with AND; several values of one filter with OR.
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.ztp_database
attributes:
  check_mode:
    support: full
    description: Read only.
  diff_mode:
    support: none
    description: Read only.
options:
  serial:
    description: Serial numbers to return.
    type: list
    elements: str
  site:
    description: Sites whose devices to return.
    type: list
    elements: str
  region:
    description: Regions whose devices to return.
    type: list
    elements: str
  cluster:
    description: Clusters whose devices to return.
    type: list
    elements: str
  state:
    description: Lifecycle states to return.
    type: list
    elements: str
    choices: [registered, discovered, os_installed, configured, platform_ready, workloads_deployed, operational, failed, decommissioned]
  include_decommissioned:
    description: Include decommissioned devices when O(state) does not ask for them.
    type: bool
    default: true
  events:
    description: Include each device's event log (oldest first).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Devices of one site that failed a stage
  edgefleet.platform.ztp_device_info:
    site: [plant-a]
    state: [failed]
    events: true
  delegate_to: localhost
  register: failed_devices

- name: One device by serial
  edgefleet.platform.ztp_device_info:
    serial: [SN-0001]
  delegate_to: localhost
"""

RETURN = r"""
devices:
  description: The matching devices, ordered by site and hostname.
  returned: always
  type: list
  elements: dict
  contains:
    serial: {description: Serial number., type: str, returned: always}
    mac: {description: Primary MAC in lower-case colon form., type: str, returned: always}
    macs: {description: Other MACs., type: list, elements: str, returned: always}
    hostname: {description: Hostname., type: str, returned: always}
    hostname_source: {description: V(given) or V(rule) (derived)., type: str, returned: always}
    site: {description: Site., type: str, returned: always}
    region: {description: Region of the site., type: str, returned: always}
    topology: {description: Topology of the site., type: str, returned: always}
    kind: {description: Kind of the site (edge or hub)., type: str, returned: always}
    connectivity: {description: Connectivity of the site., type: str, returned: always}
    cluster: {description: "Cluster, if any.", type: str, returned: always}
    platform: {description: Platform of the cluster., type: str, returned: always}
    cluster_workloads: {description: Planned workloads of the cluster., type: list, elements: dict, returned: always}
    role: {description: Node role., type: str, returned: always}
    os_family: {description: OS family., type: str, returned: always}
    ip: {description: Management IP., type: str, returned: always}
    hardware: {description: "The keys cpu_cores, memory_mb, disk_gb and disk_type.", type: dict, returned: always}
    labels: {description: Labels., type: dict, returned: always}
    facts: {description: Discovered facts., type: dict, returned: always}
    storage: {description: "Dedicated storage disks, C({disks: [{id, wipe_allowed}]})", type: dict, returned: always}
    state: {description: Lifecycle state., type: str, returned: always}
    failed_stage: {description: Stage that failed., type: str, returned: always}
    failure_reason: {description: Why it failed., type: str, returned: always}
    revision: {description: Counter increased by every change., type: int, returned: always}
    created_at: {description: "Creation time (UTC, ISO 8601).", type: str, returned: always}
    updated_at: {description: Time of the last change., type: str, returned: always}
    state_changed_at: {description: Time of the last state change., type: str, returned: always}
    events:
      description: The event log, oldest first, each with from, to, stage, at, by and reason.
      type: list
      elements: dict
      returned: when O(events=true)
  sample:
    - serial: SN-0001
      mac: "00:11:22:33:44:55"
      hostname: plant-a-c-sn0001
      site: plant-a
      state: registered
count:
  description: Number of devices returned.
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import STATES
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_module import DATABASE_ARGSPEC, run_module


def argument_spec() -> dict:
    spec = dict(
        serial=dict(type="list", elements="str"),
        site=dict(type="list", elements="str"),
        region=dict(type="list", elements="str"),
        cluster=dict(type="list", elements="str"),
        state=dict(type="list", elements="str", choices=list(STATES)),
        include_decommissioned=dict(type="bool", default=True),
        events=dict(type="bool", default=False),
    )
    spec.update(DATABASE_ARGSPEC)
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params

    def work(store):
        found = store.devices(
            serial=params["serial"] or (), site=params["site"] or (), region=params["region"] or (),
            cluster=params["cluster"] or (), state=params["state"] or (),
            include_decommissioned=params["include_decommissioned"], with_events=params["events"])
        return dict(changed=False, devices=found, count=len(found))

    run_module(module, work)


if __name__ == "__main__":
    main()
