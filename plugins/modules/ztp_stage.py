#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ztp_stage
short_description: Record the outcome of a zero-touch stage for every device of the play, in one transaction
version_added: 0.2.0
description:
  - The last task of every stage play of C(site.yml). It runs once per play on the controller and writes what
    the stage did to each device of the play in one transaction of the ZTP database.
  - Which hosts failed is found from the play itself. A host still in the play (C(ansible_play_hosts)) succeeded,
    unless the stage play's C(rescue) left the host variable C(edgefleet_stage_failure) on it, whose text becomes
    the failure reason. A host of C(ansible_play_hosts_all) that left the play (unreachable, or failed outside the
    rescue) failed.
  - What the stage stores for a device comes from a host variable (O(record_var)), a mapping with optional
    C(hardware) (as in M(edgefleet.platform.ztp_device)) and C(facts). Facts are merged by top-level key into
    the device's stored facts, so each stage keeps its own keys (discover's C(nics), the storage stage's C(storage)).
  - The lifecycle rules are the data model's alone. Success moves a device that is due for the stage to the
    state the stage reaches (C(discover) -> C(discovered), C(os_install) -> C(os_installed), C(configure) ->
    C(configured), C(platform) -> C(platform_ready), C(storage) records its outcome on a C(platform_ready)
    device without moving it, C(cloud) and C(workloads) -> C(workloads_deployed),
    C(handoff) -> C(operational)); the C(configure) stage records C(os_installed) first for an IPC that arrived
    with its OS installed. A device that failed in this stage is retried. A device already at that state or
    further along is kept where it is, its facts refreshed. A failure is recorded as C(failed) in this stage
    with the reason, cut to the model's 1024 characters; what the stage reported for a failed device is not
    stored (it may be another device's, as for a swapped IPC). A device behind the stage (for example one that failed
    in an earlier stage of the same run) and a decommissioned device are left untouched.
  - Every state change is appended to the device's event log with the stage as the actor.
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.ztp_database
attributes:
  action:
    support: full
    description: The action plugin reads the play's hosts and writes on the controller.
  bypass_host_loop:
    support: full
    description: Runs once for the whole play, like C(run_once).
  check_mode:
    support: full
    description: Everything is computed and written in a transaction that is rolled back.
  diff_mode:
    support: full
    description: Before and after of every changed device.
options:
  stage:
    description: The stage whose outcome is recorded.
    type: str
    required: true
    choices: [discover, os_install, configure, platform, storage, cloud, workloads, handoff]
  reports:
    description:
      - What each device reported, instead of reading it from the play. Normally left out.
    type: list
    elements: dict
    suboptions:
      serial:
        description: Serial number of the device.
        type: str
        required: true
      host:
        description: Inventory host name, for the summary.
        type: str
      failure:
        description: Why the device failed the stage; leave out for success.
        type: str
      hardware:
        description: Hardware facts to store (C(cpu_cores), C(memory_mb), C(disk_gb), C(disk_type)).
        type: dict
      facts:
        description: Discovered facts to store (replaces the stored facts).
        type: dict
  record_var:
    description:
      - The host variable holding what the stage stores for each device, a mapping with optional C(hardware)
        and C(facts). Roles set their own, for example C(discover_observed).
      - Only used when O(reports) is left out.
    type: str
    default: edgefleet_stage_record
  actor:
    description: Who made the changes, in the event log. Defaults to C(edgefleet.platform <stage> stage).
    type: str
notes:
  - Run it in a play without C(serial) (it records every host of the play at once) and after the stage's roles,
    with the roles wrapped in a C(block) whose C(rescue) sets C(edgefleet_stage_failure), so that a failed host
    stays in the play until its failure is recorded. The stage plays of this collection are the examples.
  - A device that failed should go no further in the run. End it with C(ansible.builtin.meta) C(end_host)
    rather than failing it after this task, because Ansible stops the whole run when every host of a play
    has failed, and other sites must go on. The stage plays of this collection also skip a host that failed an
    earlier stage, and their summary play fails the run at its end.
seealso:
  - module: edgefleet.platform.ztp_device
  - module: edgefleet.platform.ztp_device_info
"""

EXAMPLES = r"""
# The tasks of a stage play (hosts: the IPCs of the stage, no serial); the play sets
# module_defaults for group/edgefleet.platform.ztp with the database.
- name: Harden the IPC
  block:
    - name: OS hardening
      ansible.builtin.include_role:
        name: edgefleet.platform.os_hardening
  rescue:
    - name: Keep the reason for the ZTP record
      ansible.builtin.set_fact:
        edgefleet_stage_failure: "{{ ansible_failed_task.name }}: {{ ansible_failed_result.msg | default('failed') }}"

- name: Record the configure stage
  edgefleet.platform.ztp_stage:
    stage: configure
  register: stage_outcome

- name: Where each device is now
  ansible.builtin.debug:
    msg: "{{ stage_outcome.summary }}"
  run_once: true

- name: Stop here for an IPC that failed the stage (recorded above)
  ansible.builtin.meta: end_host
  when: edgefleet_stage_failure is defined

# An outcome computed elsewhere
- name: Record two discoveries
  edgefleet.platform.ztp_stage:
    database: sqlite:////srv/ztp/ztp.db
    stage: discover
    reports:
      - serial: SN-0001
        hardware: {cpu_cores: 8, memory_mb: 16384, disk_gb: 476.9, disk_type: nvme}
      - serial: SN-0002
        failure: "unreachable: timed out"
"""

RETURN = r"""
stage:
  description: The stage recorded.
  returned: always
  type: str
  sample: configure
devices:
  description: What the stage did to each device, in the order of the play's hosts.
  returned: always
  type: list
  elements: dict
  contains:
    serial: {description: Serial number., type: str, returned: always}
    host: {description: Inventory host name., type: str, returned: when known}
    action:
      description: C(advanced), C(retried), C(kept), C(failed), C(behind) (left untouched) or C(decommissioned).
      type: str
      returned: always
    state: {description: The device's state after the stage., type: str, returned: always}
    before: {description: The device's state before the stage., type: str, returned: always}
    note: {description: 'Why, in a few words.', type: str, returned: always}
    reason: {description: The failure reason recorded., type: str, returned: when the device failed}
  sample:
    - {serial: SN-0001, host: plant-a-c-sn0001, action: advanced, before: os_installed, state: configured, note: configured}
counts:
  description: How many devices each action applied to.
  returned: always
  type: dict
  sample: {advanced: 3, retried: 0, kept: 1, failed: 1, behind: 0, decommissioned: 0}
summary:
  description: One line per device, for the play's output.
  returned: always
  type: list
  elements: str
  sample: ["plant-a-c-sn0001 (SN-0001): configured", "plant-a-c-sn0002 (SN-0002): failed in configure: unreachable"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_module import run_module
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_stage import (
    STAGE_ARGSPEC,
    default_stage_actor,
    stage_result,
)


def main() -> None:
    module = AnsibleModule(argument_spec=STAGE_ARGSPEC, supports_check_mode=True)
    params = module.params
    stage = params["stage"]

    def work(store):
        outcome = store.record_stage(stage, params["reports"] or [], params["actor"] or default_stage_actor(stage))
        return stage_result(stage, outcome, module._diff)

    run_module(module, work)


if __name__ == "__main__":
    main()
