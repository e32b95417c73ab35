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

from ansible_collections.edgefleet.platform.plugins.module_utils.azure_module import run_info


def main() -> None:
    run_info("fluxConfigurations")


if __name__ == "__main__":
    main()
