#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flux_configuration
short_description: GitOps through Azure Arc, a Flux configuration (source and kustomizations) over ARM
version_added: 0.2.0
description:
  - Manages a C(Microsoft.KubernetesConfiguration/fluxConfigurations) resource of a connected cluster
    over Azure Resource Manager (api-version 2025-04-01), with a GitRepository or OCIRepository source and
    its kustomizations.
  - Reads the configuration and compares the wanted source, kustomizations and C(suspend) with ARM's.
    Creates it with a PUT; changes what differs with a PATCH; replaces it with a PUT when a setting or a
    kustomization must be removed (a PATCH cannot remove one). Scope and namespace cannot change.
  - Warns before a change or a delete removes a kustomization with C(prune), since Flux then deletes the
    workloads it deployed.
  - Needs the C(microsoft.flux) extension on the cluster (M(edgefleet.platform.arc_extension)); it never
    installs it implicitly.
  - Returns the C(complianceState); waiting for C(Compliant) is a separate, bounded task with
    M(edgefleet.platform.flux_configuration_info).
author:
  - Edgefleet platform team (@edgefleet)
extends_documentation_fragment:
  - edgefleet.platform.azure
attributes:
  check_mode:
    support: full
    description: Reads and reports what would change, warnings included; no request that changes ARM.
  diff_mode:
    support: full
    description: The source, kustomizations and suspend before and after.
options:
  name:
    description: Name of the Flux configuration.
    type: str
    required: true
  cluster_name:
    description: The connected cluster.
    type: str
    required: true
  state:
    description: V(present) creates or updates; V(absent) deletes it (Flux prunes what pruning kustomizations deployed).
    type: str
    choices: [present, absent]
    default: present
  scope:
    description: V(cluster) or V(namespace) scope of the operator.
    type: str
    choices: [cluster, namespace]
    default: cluster
  namespace:
    description: Namespace the configuration's Flux objects live in.
    type: str
    default: flux-system
  suspend:
    description: Suspend reconciliation.
    type: bool
    default: false
  git_repository:
    description: A Git source. Exactly one of O(git_repository) and O(oci_repository) with O(state=present).
    type: dict
    suboptions:
      url:
        description: The repository URL (C(https://), C(ssh://) or C(git@)).
        type: str
        required: true
      branch:
        description: Branch to follow.
        type: str
      tag:
        description: Tag to check out.
        type: str
      semver:
        description: Semver range of tags.
        type: str
      commit:
        description: Commit to check out.
        type: str
      sync_interval:
        description: Seconds between fetches.
        type: int
        default: 600
      timeout:
        description: Seconds a fetch may take.
        type: int
        default: 600
      https_user:
        description: User name for HTTPS authentication (the password goes in O(configuration_protected_settings)).
        type: str
      https_ca_cert:
        description: Base64 CA certificate for a private Git server.
        type: str
      local_auth_ref:
        description: A secret in the cluster with the credentials.
        type: str
      ssh_known_hosts:
        description: Base64 known_hosts for SSH.
        type: str
  oci_repository:
    description: An OCI artifact source.
    type: dict
    suboptions:
      url:
        description: The artifact URL (C(oci://)).
        type: str
        required: true
      tag:
        description: Tag to pull.
        type: str
      semver:
        description: Semver range of tags.
        type: str
      digest:
        description: Digest to pull (C(sha256:...)).
        type: str
      sync_interval:
        description: Seconds between pulls.
        type: int
        default: 600
      timeout:
        description: Seconds a pull may take.
        type: int
        default: 600
      insecure:
        description: Allow plain HTTP.
        type: bool
        default: false
      use_workload_identity:
        description: Pull with the cluster's workload identity.
        type: bool
        default: false
      local_auth_ref:
        description: A secret in the cluster with the credentials.
        type: str
  kustomizations:
    description: The kustomizations applied from the source. At least one with O(state=present).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the kustomization.
        type: str
        required: true
      path:
        description: Path in the source.
        type: str
        default: ./
      depends_on:
        description: Kustomizations that must be ready first.
        type: list
        elements: str
        default: []
      sync_interval:
        description: Seconds between reconciliations.
        type: int
        default: 600
      retry_interval:
        description: Seconds before a failed reconciliation is retried.
        type: int
        default: 600
      timeout:
        description: Seconds a reconciliation may take.
        type: int
        default: 600
      prune:
        description: Delete objects that left the source (and everything, when the kustomization is deleted).
        type: bool
        default: false
      force:
        description: Recreate objects that cannot be patched.
        type: bool
        default: false
      wait:
        description: Wait for the objects to become ready.
        type: bool
        default: true
      substitute:
        description: Post-build variable substitutions.
        type: dict
  configuration_protected_settings:
    description:
      - Secrets for the source (for example C(httpsKey), C(sshPrivateKey), base64). ARM never returns them,
        so they are sent on create, or at every run with O(update_protected_settings=true).
    type: dict
  update_protected_settings:
    description: Send O(configuration_protected_settings) although the configuration exists (always a change).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The site's entry of the fleet repository, through Arc
  edgefleet.platform.flux_configuration:
    name: fleet
    cluster_name: plant-a-line1
    resource_group: edge-emea
    git_repository:
      url: https://git.example.com/edge/fleet.git
      branch: main
    kustomizations:
      - name: infra
        path: ./clusters/emea/plant-a/plant-a-line1/infra
        prune: true
      - name: apps
        path: ./clusters/emea/plant-a/plant-a-line1/apps
        depends_on: [infra]
        prune: true
    breaker:
      site: plant-a
  delegate_to: localhost

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
configuration:
  description: The Flux configuration as ARM returns it after the task (before it in check mode); V(null) when absent.
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
method:
  description: How the change was sent, V(PUT), V(PATCH), V(DELETE), or V(none).
  returned: always
  type: str
changes:
  description: The top-level settings that differed.
  returned: always
  type: list
  elements: str
pruned:
  description: Kustomizations with prune that the change or delete removes (their workloads go too).
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

KIND = "fluxConfigurations"
VERSION = API_VERSIONS[KIND]
COMPARED = ("sourceKind", "suspend", "gitRepository", "ociRepository", "kustomizations")


def _drop_none(value: dict) -> dict:
    return dict((k, v) for k, v in value.items() if v is not None)


def source(params: dict) -> t.Tuple[str, str, dict]:
    git, oci = params.get("git_repository"), params.get("oci_repository")
    if git:
        ref = _drop_none(dict((k, git.get(k)) for k in ("branch", "tag", "semver", "commit")))
        body = _drop_none({"url": git["url"], "repositoryRef": ref or {"branch": "main"}, "syncIntervalInSeconds": git["sync_interval"],
                           "timeoutInSeconds": git["timeout"], "httpsUser": git.get("https_user"), "httpsCACert": git.get("https_ca_cert"),
                           "localAuthRef": git.get("local_auth_ref"), "sshKnownHosts": git.get("ssh_known_hosts")})
        return "GitRepository", "gitRepository", body
    oci = t.cast(dict, oci)  # required_if: one of the two is given
    ref = _drop_none(dict((k, oci.get(k)) for k in ("tag", "semver", "digest")))
    body = _drop_none({"url": oci["url"], "repositoryRef": ref or {"tag": "latest"}, "syncIntervalInSeconds": oci["sync_interval"],
                       "timeoutInSeconds": oci["timeout"], "insecure": oci["insecure"], "useWorkloadIdentity": oci["use_workload_identity"],
                       "localAuthRef": oci.get("local_auth_ref")})
    return "OCIRepository", "ociRepository", body


def kustomization(item: dict) -> dict:
    body = {"path": item["path"], "dependsOn": list(item["depends_on"]), "syncIntervalInSeconds": item["sync_interval"],
            "retryIntervalInSeconds": item["retry_interval"], "timeoutInSeconds": item["timeout"], "prune": item["prune"],
            "force": item["force"], "wait": item["wait"]}
    if item.get("substitute"):
        body["postBuild"] = {"substitute": dict((str(k), str(v)) for k, v in item["substitute"].items())}
    return body


def wanted(params: dict) -> dict:
    kind, key, body = source(params)
    return {"scope": params["scope"], "namespace": params["namespace"], "sourceKind": kind, "suspend": params["suspend"],
            key: body, "kustomizations": dict((k["name"], kustomization(k)) for k in params["kustomizations"])}


def pruned_by(before: dict, after_names: t.Iterable[str]) -> t.List[str]:
    """Kustomizations with prune that are there before and gone after."""
    keep = set(after_names)
    return sorted(name for name, k in (before.get("kustomizations") or {}).items() if name not in keep and (k or {}).get("prune"))


def removals(props: dict, want: dict) -> bool:
    """Whether reaching want takes removing something ARM has (a PATCH cannot)."""
    if set(props.get("kustomizations") or {}) - set(want["kustomizations"]):
        return True
    for key in ("gitRepository", "ociRepository"):
        have, new = props.get(key) or {}, want.get(key)
        if have and new is None:
            return True
        if new is not None:
            if set(_drop_none(have)) - set(new) or set(_drop_none(have.get("repositoryRef") or {})) - set(new["repositoryRef"]):
                return True
    for name, k in want["kustomizations"].items():
        old = (props.get("kustomizations") or {}).get(name) or {}
        if set(_drop_none(old)) - set(k) - {"name"}:
            return True
    return False


def view(props: dict) -> dict:
    return dict((k, props.get(k)) for k in COMPARED if props.get(k) is not None)


def present(ctx: CloudContext, path: str) -> dict:
    module, params = ctx.module, ctx.module.params
    want = wanted(params)
    protected = params.get("configuration_protected_settings")
    arm = ctx.client.get(path, VERSION)
    props = (arm or {}).get("properties") or {}
    for key in ("scope", "namespace"):
        if arm is not None and props.get(key) != want[key]:
            module.fail_json(msg="flux configuration %s: %s is %r on ARM and cannot change to %r; delete it first"
                             % (params["name"], key, props.get(key), want[key]), **status_of(KIND, arm))
    if arm is None:
        method, changes = "PUT", sorted(k for k in COMPARED if k in want)
    else:
        found = set(p.split(".")[0] for p in diff_keys(props, dict((k, want[k]) for k in COMPARED if k in want)))
        if set(props.get("kustomizations") or {}) - set(want["kustomizations"]):
            found.add("kustomizations")
        changes = sorted(found)
        # a PATCH merges: anything to remove takes a PUT of the whole configuration
        method = "none" if not changes else "PUT" if removals(props, want) else "PATCH"
    if protected and params["update_protected_settings"] and arm is not None:
        changes.append("configurationProtectedSettings")
        method = "PATCH" if method == "none" else method
    pruned = pruned_by(props, want["kustomizations"]) if arm is not None else []
    for name in pruned:
        module.warn("flux configuration %s: kustomization %s has prune enabled; removing it deletes the workloads it deployed"
                    % (params["name"], name))
    after = arm
    if method != "none" and not module.check_mode:
        secret = {"configurationProtectedSettings": dict((str(k), str(v)) for k, v in protected.items())} if protected else {}
        if method == "PUT":
            body = {"properties": dict(want, **(secret if arm is None or params["update_protected_settings"] else {}))}
            after = ctx.client.put(path, VERSION, body)
        else:
            patch = dict((k, want[k]) for k in changes if k in want)
            if "configurationProtectedSettings" in changes:
                patch.update(secret)
            after = ctx.client.patch(path, VERSION, {"properties": patch})
    result: dict = dict(changed=method != "none", method=method, changes=changes, pruned=pruned, **status_of(KIND, after))
    if module._diff and method != "none":
        result["diff"] = {"before": view(props), "after": view(want)}
    return result


def absent(ctx: CloudContext, path: str) -> dict:
    module = ctx.module
    arm = ctx.client.get(path, VERSION)
    props = (arm or {}).get("properties") or {}
    pruned = pruned_by(props, ())
    if pruned:
        module.warn("flux configuration %s: deleting it prunes the workloads of kustomizations %s"
                    % (module.params["name"], ", ".join(pruned)))
    if arm is not None and not module.check_mode:
        ctx.client.delete(path, VERSION)
    result: dict = dict(changed=arm is not None, method="DELETE" if arm is not None else "none",
                        changes=["deleted"] if arm is not None else [], pruned=pruned, configuration=None)
    if module._diff and arm is not None:
        result["diff"] = {"before": view(props), "after": {}}
    return result


def main() -> None:
    git = dict(url=dict(type="str", required=True), branch=dict(type="str"), tag=dict(type="str"), semver=dict(type="str"),
               commit=dict(type="str"), sync_interval=dict(type="int", default=600), timeout=dict(type="int", default=600),
               https_user=dict(type="str"), https_ca_cert=dict(type="str"), local_auth_ref=dict(type="str", no_log=False),
               ssh_known_hosts=dict(type="str"))
    oci = dict(url=dict(type="str", required=True), tag=dict(type="str"), semver=dict(type="str"), digest=dict(type="str"),
               sync_interval=dict(type="int", default=600), timeout=dict(type="int", default=600),
               insecure=dict(type="bool", default=False), use_workload_identity=dict(type="bool", default=False),
               local_auth_ref=dict(type="str", no_log=False))
    kust = dict(name=dict(type="str", required=True), path=dict(type="str", default="./"),
                depends_on=dict(type="list", elements="str", default=[]), sync_interval=dict(type="int", default=600),
                retry_interval=dict(type="int", default=600), timeout=dict(type="int", default=600),
                prune=dict(type="bool", default=False), force=dict(type="bool", default=False), wait=dict(type="bool", default=True),
                substitute=dict(type="dict"))
    argument_spec: t.Dict[str, t.Any] = dict(CLOUD_ARGSPEC)
    argument_spec.update(
        name=dict(type="str", required=True),
        cluster_name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        scope=dict(type="str", choices=["cluster", "namespace"], default="cluster"),
        namespace=dict(type="str", default="flux-system"),
        suspend=dict(type="bool", default=False),
        git_repository=dict(type="dict", options=git),
        oci_repository=dict(type="dict", options=oci),
        kustomizations=dict(type="list", elements="dict", options=kust),
        configuration_protected_settings=dict(type="dict", no_log=True),
        update_protected_settings=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("git_repository", "oci_repository")],
                           required_if=[("state", "present", ("git_repository", "oci_repository"), True),
                                        ("state", "present", ("kustomizations",))])
    params = module.params
    if params["state"] == "present":
        names = [k["name"] for k in params["kustomizations"]]
        if not names:
            module.fail_json(msg="kustomizations: at least one is required")
        twice = sorted(set(n for n in names if names.count(n) > 1))
        if twice:
            module.fail_json(msg="kustomizations: %s is listed twice" % twice[0])
        for k in params["kustomizations"]:
            unknown = sorted(set(k["depends_on"]) - set(names))
            if unknown:
                module.fail_json(msg="kustomizations: %s depends on %s, which is not a kustomization of this configuration"
                                 % (k["name"], unknown[0]))

    def work(ctx: CloudContext) -> dict:
        path = child_path(ctx.subscription_id, params["resource_group"], params["cluster_name"], "fluxConfigurations", params["name"])
        return absent(ctx, path) if params["state"] == "absent" else present(ctx, path)

    run_cloud(module, work)


if __name__ == "__main__":
    main()
