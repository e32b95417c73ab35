#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ztp_import
short_description: Create or update regions, sites, clusters and devices in the ZTP database in bulk
version_added: 0.1.0
description:
  - Loads the ZTP import format (regions, sites, clusters, devices) from a YAML or CSV file or from a
    mapping, validates every record and writes the differences in one transaction.
  - Any invalid record fails the whole import with a message naming the record and the field; nothing
    is written then.
  - Fields a record gives replace the stored ones (C(labels) as a whole); fields it leaves out are kept.
    New devices start in the lifecycle state C(registered); existing devices keep their state.
  - Hostnames left out are derived from site, role and serial (see the README of the collection).
  - Idempotent; reports C(changed) only when something was created or updated.
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.ztp_database
attributes:
  check_mode:
    support: full
    description: The import runs in a transaction that is rolled back; the result shows what would change.
  diff_mode:
    support: full
    description: Before and after of every created or updated record.
options:
  src:
    description:
      - Path of a YAML file (the import format) or a CSV file (devices only, one column per device key,
        C(hardware.*) and C(labels.*) as dotted columns) on the host that runs the module.
      - Mutually exclusive with O(data).
    type: path
  format:
    description:
      - Format of O(src). V(auto) picks CSV for a C(.csv) suffix and YAML otherwise.
    type: str
    choices: [auto, yaml, csv]
    default: auto
  data:
    description:
      - The import document as a mapping with the optional lists C(regions), C(sites), C(clusters) and
        C(devices).
      - Mutually exclusive with O(src).
    type: dict
  actor:
    description:
      - Who made the change, recorded in the event log of new devices.
      - Defaults to C(ansible:<user>).
    type: str
  reason:
    description:
      - Reason recorded in the event log of new devices.
    type: str
    default: imported
"""

EXAMPLES = r"""
- name: Register the fleet from the planning sheet
  edgefleet.platform.ztp_import:
    database: sqlite:////srv/ztp/ztp.db
    src: "{{ playbook_dir }}/fleet.yml"
  delegate_to: localhost
  run_once: true

- name: Add devices from a CSV export
  edgefleet.platform.ztp_import:
    src: /srv/ztp/new-ipcs.csv
  environment:
    EDGEFLEET_ZTP_DB: "{{ ztp_database_url }}"
  delegate_to: localhost
  run_once: true

- name: Import from variables
  edgefleet.platform.ztp_import:
    data:
      regions: [{name: emea}]
      sites:
        - {name: plant-a, region: emea, topology: multi_node, kind: edge, connectivity: intermittent}
        - name: plant-b
          region: emea
          topology: single_node
          proxy: {https_proxy: 'http://proxy.plant-b.example:3128', no_proxy: [10.42.0.0/16, 10.43.0.0/16, .svc]}
      clusters:
        - name: plant-a-line1
          site: plant-a
          platform: k3s
          workloads:
            - {name: opcua-gateway, type: medium}
      devices:
        - serial: SN-0001
          mac: "00:11:22:33:44:55"
          site: plant-a
          cluster: plant-a-line1
          role: control
          os_family: linux
          ip: 192.0.2.10
          hardware: {cpu_cores: 4, memory_mb: 8192, disk_gb: 128, disk_type: ssd}
          labels: {line: "1"}
          # the storage stage's dedicated disk, by id; wiped only when wipe_allowed
          storage: {disks: [{id: nvme-IPC_SSD_S4EWNX0R123456, wipe_allowed: false}]}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
created:
  description: Names (serials for devices) of the records created, per kind.
  returned: always
  type: dict
  sample: {regions: [emea], sites: [plant-a], clusters: [], devices: [SN-0001]}
updated:
  description: Names (serials for devices) of the records updated, per kind.
  returned: always
  type: dict
  sample: {regions: [], sites: [], clusters: [plant-a-line1], devices: []}
unchanged:
  description: Number of records that were already as given, per kind.
  returned: always
  type: dict
  sample: {regions: 1, sites: 1, clusters: 0, devices: 42}
database:
  description: The database URL with any password replaced.
  returned: always
  type: str
  sample: postgresql://ztp:********@db.example.com:5432/ztp
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_formats import load_file
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_module import (
    DATABASE_ARGSPEC,
    default_actor,
    run_module,
)


def main() -> None:
    argument_spec = dict(
        src=dict(type="path"),
        format=dict(type="str", choices=["auto", "yaml", "csv"], default="auto"),
        data=dict(type="dict"),
        actor=dict(type="str"),
        reason=dict(type="str", default="imported"),
    )
    argument_spec.update(DATABASE_ARGSPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("src", "data")],
        required_one_of=[("src", "data")],
        supports_check_mode=True,
    )
    params = module.params

    def work(store):
        document = load_file(params["src"], params["format"]) if params["src"] else params["data"]
        outcome = store.import_data(document, params["actor"] or default_actor(), params["reason"])
        changed = any(outcome["created"].values()) or any(outcome["updated"].values())
        result = dict(changed=changed, created=outcome["created"], updated=outcome["updated"],
                      unchanged=outcome["unchanged"], database=store.redacted_url)
        if module._diff and changed:
            result["diff"] = outcome["diff"]
        return result

    run_module(module, work)


if __name__ == "__main__":
    main()
