#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: arc_extension_info
short_description: Read a cluster extension of an Arc-connected cluster from ARM
version_added: 0.2.0
description:
  - Reads a C(Microsoft.KubernetesConfiguration/extensions) resource (api-version 2025-03-01) and returns its
    provisioning state and version. Protected settings are never returned by ARM.
  - Read only. Use it with C(until) for a bounded wait after M(edgefleet.platform.arc_extension).
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
    description: Name of the extension.
    type: str
    required: true
  cluster_name:
    description: The connected cluster.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Wait, bounded, for the Flux extension
  edgefleet.platform.arc_extension_info:
    name: flux
    cluster_name: plant-a-line1
    resource_group: edge-emea
  delegate_to: localhost
  register: flux_extension
  until: flux_extension.provisioning_state in ['Succeeded', 'Failed']
  retries: 30
  delay: 20
"""

RETURN = r"""
exists:
  description: Whether ARM has the extension.
  returned: always
  type: bool
extension:
  description: The extension as ARM returns it; V(null) when it does not exist.
  returned: always
  type: dict
provisioning_state:
  description: C(Succeeded), C(Failed), C(Canceled), C(Creating), C(Updating) or C(Deleting).
  returned: when the extension exists
  type: str
current_version:
  description: The installed version.
  returned: when the extension exists
  type: str
breaker:
  description: The breaker's record after the call, when O(breaker) is set.
  returned: when O(breaker) is set
  type: dict
"""

from ansible_collections.edgefleet.platform.plugins.module_utils.azure_module import run_info


def main() -> None:
    run_info("extensions")


if __name__ == "__main__":
    main()
