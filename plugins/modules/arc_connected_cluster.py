#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: arc_connected_cluster
short_description: Register a Kubernetes cluster in Azure Arc (the ARM resource and the agents' key pair)
version_added: 0.2.0
description:
  - Manages a C(Microsoft.Kubernetes/connectedClusters) resource over Azure Resource Manager (api-version
    2026-05-01) and the RSA key pair the Arc agents authenticate with.
  - It reads both sides first, the cluster's C(azure-arc/azure-clusterconfig) ConfigMap (given as
    O(cluster_config)) and the ARM resource, then decides by the re-onboard table of
    C(az connectedk8s connect), made explicit; RV(action) says which row applied.
  - C(none) when the agents name this resource and it is as wanted; C(update), a re-PUT with the
    public key ARM already has, when tags, location or properties differ; C(conflict), a failure naming
    the other resource, when the agents are onboarded elsewhere or the resource belongs to another
    cluster; C(onboard), a fresh key pair and a PUT, when ARM has no such resource.
  - A resource whose public key matches the key in O(private_key_path) is this cluster's, even before
    the agents are installed, so a run interrupted between the PUT and the agents converges.
  - It never deletes and recreates a resource unless O(force_reonboard=true) (C(reonboard)).
  - The private key is created in O(private_key_path) with mode 0600 and never appears in the output;
    the agents' role puts it in a Kubernetes secret.
  - It reports, and does not wait for, the connectivity; waiting for C(Connected) is a separate,
    bounded task with M(edgefleet.platform.arc_connected_cluster_info).
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.azure
attributes:
  check_mode:
    support: full
    description: Decides and reports; no request that changes ARM, no key file written.
  diff_mode:
    support: full
    description: The resource's location, tags and settable properties before and after (never a key).
options:
  name:
    description: Name of the connected cluster resource.
    type: str
    required: true
  state:
    description: V(present) registers the cluster; V(absent) deletes the ARM resource (the agents are the role's job).
    type: str
    choices: [present, absent]
    default: present
  location:
    description: Azure region of the resource. Required with O(state=present).
    type: str
  tags:
    description: Tags of the resource (replace the existing ones).
    type: dict
    default: {}
  distribution:
    description: The Kubernetes distribution, as C(az connectedk8s connect --distribution) names it.
    type: str
    default: k3s
  distribution_version:
    description: Version of the distribution.
    type: str
  infrastructure:
    description: The infrastructure the cluster runs on (C(--infrastructure)).
    type: str
    default: generic
  cluster_config:
    description:
      - The data of the cluster's C(azure-arc/azure-clusterconfig) ConfigMap as read from the cluster
        (for example with M(kubernetes.core.k8s_info)); V({}) when the cluster has no such ConfigMap.
      - Required with O(state=present), since the decision needs both sides.
    type: dict
  private_key_path:
    description:
      - File holding the agents' RSA private key (PKCS#1 PEM), created with mode 0600 on a fresh onboard.
      - A file readable by group or others is refused.
      - Required with O(state=present).
    type: path
  force_reonboard:
    description:
      - Delete the ARM resource and onboard fresh, with a new key pair, when the table says C(conflict) or
        the resource exists. The agents then need reinstalling (RV(agents=reinstall)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the Arc agents' ConfigMap on the cluster
  kubernetes.core.k8s_info:
    kind: ConfigMap
    namespace: azure-arc
    name: azure-clusterconfig
  register: arc_clusterconfig

- name: Register the cluster in Azure Arc
  edgefleet.platform.arc_connected_cluster:
    name: plant-a-line1
    resource_group: edge-emea
    location: westeurope
    tags:
      site: plant-a
    cluster_config: "{{ (arc_clusterconfig.resources | first).data | default({}) if arc_clusterconfig.resources else {} }}"
    private_key_path: /var/lib/edgefleet/arc/plant-a-line1.pem
    breaker:
      site: plant-a
  delegate_to: localhost
  register: arc

- name: Certificate service principal, from the environment's tenant and subscription
  edgefleet.platform.arc_connected_cluster:
    name: plant-b
    resource_group: edge-emea
    location: westeurope
    cluster_config: {}
    private_key_path: /var/lib/edgefleet/arc/plant-b.pem
    client_id: "{{ arc_onboarding_client_id }}"
    x509_certificate_path: /etc/edgefleet/arc-onboarding.pem
  delegate_to: localhost
"""

RETURN = r"""
action:
  description: The row of the re-onboard table that applied.
  returned: always
  type: str
  sample: update
reason:
  description: Why, in one line.
  returned: always
  type: str
agents:
  description: What the Arc agents need on the cluster; V(keep), V(install) or V(reinstall).
  returned: always
  type: str
  sample: install
connected_cluster:
  description: The ARM resource after the task (before it in check mode); V(null) when there is none.
  returned: always
  type: dict
connectivity_status:
  description: C(Connecting), C(Connected), C(Offline), C(Expired) or C(AgentNotInstalled).
  returned: when the resource exists
  type: str
  sample: Connected
agent_state:
  description: The agents' state as ARM reports it (C(arcAgentProfile.agentState)).
  returned: when the resource exists
  type: str
certificate_expiry:
  description: When the agents' managed identity certificate expires (C(managedIdentityCertificateExpirationTime)).
  returned: when the resource exists
  type: str
  sample: "2027-03-03T09:00:00Z"
private_key_path:
  description: The file holding the agents' private key (the key itself is never returned).
  returned: with O(state=present)
  type: str
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.edgefleet.platform.plugins.module_utils import arc_onboard as ob
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_arm import API_VERSIONS, ArmError, cluster_path, status_of
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_module import CLOUD_ARGSPEC, CloudContext, run_cloud

KIND = "connectedClusters"
VERSION = API_VERSIONS[KIND]


def wanted_body(params: dict) -> dict:
    props = {"distribution": params["distribution"], "infrastructure": params["infrastructure"]}
    if params.get("distribution_version"):
        props["distributionVersion"] = params["distribution_version"]
    return {"location": params["location"], "tags": params["tags"], "identity": {"type": "SystemAssigned"},
            "properties": props}


def view(resource: dict | None) -> dict:
    """The comparable part, for diff."""
    if resource is None:
        return {}
    props = resource.get("properties") or {}
    return {"location": resource.get("location"), "tags": resource.get("tags") or {},
            "properties": dict((k, props.get(k)) for k in ("distribution", "distributionVersion", "infrastructure") if k in props)}


def present(ctx: CloudContext, path: str) -> dict:
    module, params = ctx.module, ctx.module.params
    arm = ctx.client.get(path, VERSION)
    key_path = params["private_key_path"]
    try:
        local_pem = ob.read_private_key(key_path)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    local_public = ob.public_key_of(local_pem) if local_pem else None
    body = wanted_body(params)
    decision = ob.decide(params["cluster_config"] or None, arm, params["resource_group"], params["name"], body,
                         local_public, params["force_reonboard"])
    result: dict = dict(decision.as_dict(), changed=False, private_key_path=key_path)
    if decision.action == ob.CONFLICT:
        module.fail_json(msg=decision.reason, conflict=True, **dict(result, **status_of(KIND, arm)))
    after = arm
    if decision.action in (ob.ONBOARD, ob.REONBOARD, ob.UPDATE):
        result["changed"] = True
        if not module.check_mode:
            if decision.action == ob.UPDATE:
                public = decision.public_key
            else:
                if decision.action == ob.REONBOARD and arm is not None:
                    ctx.client.delete(path, VERSION)
                # a fresh onboard reuses a key left by an interrupted run only if ARM never saw it
                if local_pem is None or decision.action == ob.REONBOARD:
                    local_pem = ob.new_private_key()
                    ob.write_private_key(key_path, local_pem)
                public = ob.public_key_of(local_pem)
            put = dict(body, properties=dict(body["properties"], agentPublicKeyCertificate=public))
            after = ctx.client.put(path, VERSION, put)
    if module._diff and result["changed"]:
        result["diff"] = {"before": view(arm), "after": view(dict(body) if module.check_mode else after)}
    result.update(status_of(KIND, after))
    return result


def absent(ctx: CloudContext, path: str) -> dict:
    arm = ctx.client.get(path, VERSION)
    result: dict = dict(action="none" if arm is None else "delete", reason="", agents="keep", changed=arm is not None,
                        connected_cluster=None)
    if arm is not None and not ctx.module.check_mode:
        ctx.client.delete(path, VERSION)
    if ctx.module._diff and arm is not None:
        result["diff"] = {"before": view(arm), "after": {}}
    return result


def main() -> None:
    argument_spec: t.Dict[str, t.Any] = dict(CLOUD_ARGSPEC)
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        location=dict(type="str"),
        tags=dict(type="dict", default={}),
        distribution=dict(type="str", default="k3s"),
        distribution_version=dict(type="str"),
        infrastructure=dict(type="str", default="generic"),
        cluster_config=dict(type="dict"),
        private_key_path=dict(type="path", no_log=False),
        force_reonboard=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "present", ("location", "cluster_config", "private_key_path"))])
    if not ob.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"))
    params = module.params
    params["tags"] = dict((str(k), str(v)) for k, v in (params["tags"] or {}).items())

    def work(ctx: CloudContext) -> dict:
        path = cluster_path(ctx.subscription_id, params["resource_group"], params["name"])
        try:
            if params["state"] == "absent":
                return absent(ctx, path)
            return present(ctx, path)
        except ValueError as exc:
            raise ArmError(str(exc), 400) from None

    run_cloud(module, work)


if __name__ == "__main__":
    main()
