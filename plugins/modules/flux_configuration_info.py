#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flux_configuration_info
short_description: Read a Flux configuration of an Arc-connected cluster from ARM
version_added: 0.2.0
description:
  - Reads a C(Microsoft.KubernetesConfiguration/fluxConfigurations) resource (api-version 2025-04-01) and
    returns its compliance state and the status of the objects Flux deployed.
  - Read only. Use it with C(until) for a bounded wait for C(Compliant).
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.azure
attributes:
  check_mode:
    support: full
    description: Read only.
  diff_mode:
    support: none
    description: Read only.
options:
  name:
    description: Name of the Flux configuration.
    type: str
    required: true
  cluster_name:
    description: The connected cluster.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Wait, bounded, for Compliant
  edgefleet.platform.flux_configuration_info:
    name: fleet
    cluster_name: plant-a-line1
    resource_group: edge-emea
  delegate_to: localhost
  register: fleet
  until: fleet.compliance_state in ['Compliant', 'Non-Compliant']
  retries: 30
  delay: 20
"""

RETURN = r"""
exists:
  description: Whether ARM has the configuration.
  returned: always
  type: bool
configuration:
  description: The configuration as ARM returns it; V(null) when it does not exist.
  returned: always
  type: dict
compliance_state:
  description: C(Compliant), C(Non-Compliant), C(Pending), C(Suspended) or C(Unknown).
  returned: when the configuration exists
  type: str
provisioning_state:
  description: ARM's provisioning state.
  returned: when the configuration exists
  type: str
statuses:
  description: The status of each object Flux manages for this configuration.
  returned: when the configuration exists
  type: list
  elements: dict
error_message:
  description: The configuration's error, if any.
  returned: when the configuration exists
  type: str
breaker:
  description: The breaker's record after the call, when O(breaker) is set.
  returned: when O(breaker) is set
  type: dict
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_arm import API_VERSIONS, child_path
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_module import CLOUD_ARGSPEC, CloudContext, run_cloud


def main() -> None:
    argument_spec: t.Dict[str, t.Any] = dict(CLOUD_ARGSPEC)
    argument_spec.update(name=dict(type="str", required=True), cluster_name=dict(type="str", required=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    def work(ctx: CloudContext) -> dict:
        path = child_path(ctx.subscription_id, params["resource_group"], params["cluster_name"], "fluxConfigurations", params["name"])
        arm = ctx.client.get(path, API_VERSIONS["fluxConfigurations"])
        result: dict = dict(changed=False, exists=arm is not None, configuration=arm)
        if arm is not None:
            props = arm.get("properties") or {}
            result.update(compliance_state=props.get("complianceState"), provisioning_state=props.get("provisioningState"),
                          statuses=props.get("statuses") or [], error_message=props.get("errorMessage") or "")
        return result

    run_cloud(module, work)


if __name__ == "__main__":
    main()
