#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: arc_connected_cluster_info
short_description: Read an Arc-connected cluster's state from ARM
version_added: 0.2.0
description:
  - Reads a C(Microsoft.Kubernetes/connectedClusters) resource (api-version 2026-05-01) and returns its
    connectivity, the agents' state and the agents' certificate expiry.
  - Read only. Use it with C(until) for a bounded wait for C(Connected); C(Offline) is normal at the edge.
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
    description: Name of the connected cluster resource.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Wait, bounded, for the agents to connect
  edgefleet.platform.arc_connected_cluster_info:
    name: plant-a-line1
    resource_group: edge-emea
  delegate_to: localhost
  register: arc_state
  until: arc_state.connectivity_status == 'Connected'
  retries: 20
  delay: 15
"""

RETURN = r"""
exists:
  description: Whether ARM has the resource.
  returned: always
  type: bool
connected_cluster:
  description: The resource as ARM returns it; V(null) when it does not exist.
  returned: always
  type: dict
connectivity_status:
  description: C(Connecting), C(Connected), C(Offline), C(Expired) or C(AgentNotInstalled).
  returned: when the resource exists
  type: str
agent_state:
  description: The agents' state (C(arcAgentProfile.agentState)).
  returned: when the resource exists
  type: str
certificate_expiry:
  description: Expiry of the agents' managed identity certificate.
  returned: when the resource exists
  type: str
breaker:
  description: The breaker's record after the call, when O(breaker) is set.
  returned: when O(breaker) is set
  type: dict
"""

from ansible_collections.edgefleet.platform.plugins.module_utils.azure_module import run_info


def main() -> None:
    run_info("connectedClusters")


if __name__ == "__main__":
    main()
