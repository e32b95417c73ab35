#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: arc_extension
short_description: Install a cluster extension (such as microsoft.flux) on an Arc-connected cluster
version_added: 0.2.0
description:
  - Manages a C(Microsoft.KubernetesConfiguration/extensions) resource of a connected cluster over Azure
    Resource Manager (api-version 2025-03-01).
  - Reads the extension, compares what O(extension_type), O(release_train), O(version),
    O(auto_upgrade_minor_version) and O(configuration_settings) ask with what ARM has, then creates it
    (PUT) or changes what differs (PATCH). The extension type and scope cannot change; a different one
    fails with a clear message rather than deleting the extension.
  - The extension is created explicitly, never implicitly by a Flux configuration, and the task
    returns once ARM accepted it; waiting for C(provisioningState=Succeeded) is a separate, bounded
    task with M(edgefleet.platform.arc_extension_info) (an install can hang in C(Creating) for long).
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.azure
attributes:
  check_mode:
    support: full
    description: Reads and reports what would change; no request that changes ARM.
  diff_mode:
    support: full
    description: The compared settings before and after (protected settings never shown).
options:
  name:
    description: Name of the extension (C(flux) for the Flux extension, as C(az k8s-configuration flux) names it).
    type: str
    required: true
  cluster_name:
    description: The connected cluster the extension belongs to.
    type: str
    required: true
  state:
    description: V(present) installs or updates; V(absent) deletes the extension (and what it installed).
    type: str
    choices: [present, absent]
    default: present
  extension_type:
    description: The extension type, for example V(microsoft.flux). Required with O(state=present).
    type: str
  release_train:
    description: Release train for automatic minor upgrades (V(Stable), V(Preview)).
    type: str
  version:
    description: A pinned version (needs O(auto_upgrade_minor_version=false)).
    type: str
  auto_upgrade_minor_version:
    description: Whether ARM upgrades the extension's minor version by itself.
    type: bool
    default: true
  release_namespace:
    description: Namespace of a cluster-scoped extension's release.
    type: str
  configuration_settings:
    description: Settings of the extension, name-value pairs (values are strings).
    type: dict
    default: {}
  configuration_protected_settings:
    description:
      - Sensitive settings. ARM never returns them, so they cannot be compared; they are sent when the
        extension is created, or at every run with O(update_protected_settings=true).
    type: dict
  update_protected_settings:
    description: Send O(configuration_protected_settings) even when the extension exists (always reports a change).
    type: bool
    default: false
  force_delete:
    description: With O(state=absent), delete even when the extension's own clean-up fails (C(forceDelete)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The Flux extension, created explicitly
  edgefleet.platform.arc_extension:
    name: flux
    cluster_name: plant-a-line1
    resource_group: edge-emea
    extension_type: microsoft.flux
    release_namespace: flux-system
    configuration_settings:
      multiTenancy.enforce: "false"
    breaker:
      site: plant-a
  delegate_to: localhost

- name: Wait, bounded, for the installation
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
extension:
  description: The extension as ARM returns it after the task (before it in check mode); V(null) when absent.
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
changes:
  description: The settings that differed (and were sent).
  returned: always
  type: list
  elements: str
breaker:
  description: The breaker's record after the call, when O(breaker) is set.
  returned: when O(breaker) is set
  type: dict
breaker_open:
  description: True when the call was refused because the site's breaker is open (the site is local only).
  returned: on failure with O(breaker)
  type: bool
local_only:
  description:
    - True when the cloud is out of reach for the site in this run, the breaker open or an outage just counted
      against it; the site goes on with its local stages. False when the request itself was refused.
  returned: on failure with O(breaker)
  type: bool
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_arm import API_VERSIONS, child_path, status_of
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_module import CLOUD_ARGSPEC, CloudContext, diff_keys, run_cloud

KIND = "extensions"
VERSION = API_VERSIONS[KIND]
PATCHABLE = ("autoUpgradeMinorVersion", "releaseTrain", "version", "configurationSettings")


def wanted(params: dict) -> dict:
    props: dict = {"extensionType": params["extension_type"], "autoUpgradeMinorVersion": params["auto_upgrade_minor_version"],
                   "configurationSettings": dict((str(k), str(v)) for k, v in params["configuration_settings"].items())}
    if params.get("release_train"):
        props["releaseTrain"] = params["release_train"]
    if params.get("version"):
        props["version"] = params["version"]
    if params.get("release_namespace"):
        props["scope"] = {"cluster": {"releaseNamespace": params["release_namespace"]}}
    return props


def present(ctx: CloudContext, path: str) -> dict:
    module, params = ctx.module, ctx.module.params
    arm = ctx.client.get(path, VERSION)
    want = wanted(params)
    protected = params.get("configuration_protected_settings")
    if arm is None:
        changes = sorted(want)
        body: dict = {"identity": {"type": "SystemAssigned"}, "properties": dict(want)}
        if protected:
            body["properties"]["configurationProtectedSettings"] = dict((str(k), str(v)) for k, v in protected.items())
        after = body if module.check_mode else ctx.client.put(path, VERSION, body)
        before_view: dict = {}
    else:
        props = arm.get("properties") or {}
        for key in ("extensionType", "scope"):
            if key in want and diff_keys(props.get(key), want[key]):
                module.fail_json(msg="extension %s: %s is %r on ARM and cannot change to %r; delete the extension first"
                                 % (params["name"], key, props.get(key), want[key]), **status_of(KIND, arm))
        changes = sorted(set(k.split(".")[0] for k in diff_keys(props, dict((k, want[k]) for k in PATCHABLE if k in want))))
        # configuration settings are a whole map: one ARM has that we do not want differs too
        if (props.get("configurationSettings") or {}) != want["configurationSettings"] and "configurationSettings" not in changes:
            changes.append("configurationSettings")
        patch = dict((k, want[k]) for k in changes)
        if protected and params["update_protected_settings"]:
            changes.append("configurationProtectedSettings")
            patch["configurationProtectedSettings"] = dict((str(k), str(v)) for k, v in protected.items())
        after = arm
        if changes and not module.check_mode:
            after = ctx.client.patch(path, VERSION, {"properties": patch})
        before_view = dict((k, props.get(k)) for k in PATCHABLE if k in props)
    shown = after if not module.check_mode or arm is not None else None  # in check mode, nothing was created
    result: dict = dict(changed=bool(changes), changes=changes, **status_of(KIND, shown))
    if module._diff and changes:
        after_view = dict((k, want[k]) for k in PATCHABLE if k in want)
        result["diff"] = {"before": before_view, "after": after_view}
    return result


def absent(ctx: CloudContext, path: str) -> dict:
    arm = ctx.client.get(path, VERSION)
    if arm is not None and not ctx.module.check_mode:
        ctx.client.delete(path, VERSION, params={"forceDelete": "true"} if ctx.module.params["force_delete"] else None)
    result: dict = dict(changed=arm is not None, changes=["deleted"] if arm is not None else [], extension=None)
    if ctx.module._diff and arm is not None:
        result["diff"] = {"before": {"extensionType": (arm.get("properties") or {}).get("extensionType")}, "after": {}}
    return result


def main() -> None:
    argument_spec: t.Dict[str, t.Any] = dict(CLOUD_ARGSPEC)
    argument_spec.update(
        name=dict(type="str", required=True),
        cluster_name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        extension_type=dict(type="str"),
        release_train=dict(type="str"),
        version=dict(type="str"),
        auto_upgrade_minor_version=dict(type="bool", default=True),
        release_namespace=dict(type="str"),
        configuration_settings=dict(type="dict", default={}),
        configuration_protected_settings=dict(type="dict", no_log=True),
        update_protected_settings=dict(type="bool", default=False),
        force_delete=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "present", ("extension_type",))])
    params = module.params

    def work(ctx: CloudContext) -> dict:
        path = child_path(ctx.subscription_id, params["resource_group"], params["cluster_name"], "extensions", params["name"])
        return absent(ctx, path) if params["state"] == "absent" else present(ctx, path)

    run_cloud(module, work)


if __name__ == "__main__":
    main()
