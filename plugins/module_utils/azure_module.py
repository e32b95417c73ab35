# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every arc_* and flux_* module shares: options, the client, and the breaker around it.

``run_cloud(module, work)`` is the one way a module reaches Azure:

1. with ``breaker`` options, the site's breaker for the dependency is asked
   first (ZTP database); an open breaker fails the task at once with
   ``breaker_open: true``, touching no network;
2. the work runs with an ArmClient;
3. an outage (unreachable, 5xx, 429 after retries) counts against the
   breaker and fails the task with ``local_only: true`` (the site goes on
   without the cloud this run, whether or not the breaker opened); success
   closes it; a refused request (4xx) leaves it as it is.

Check mode never writes the breaker (the store's dry run).
"""

from __future__ import annotations

import os
import typing as t
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible_collections.edgefleet.platform.plugins.module_utils import cloud_breaker as cb
from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_breakers
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_arm import (
    API_VERSIONS,
    HAS_AZURE_MGMT_CORE,
    ArmClient,
    ArmError,
    child_path,
    cluster_path,
    status_of,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_auth import (
    AUTH_ARGSPEC,
    HAS_AZURE_IDENTITY,
    PUBLIC_ARM,
    AzureAuthError,
    credential,
    resolve,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ENV_VAR, ZtpDatabaseError, ZtpError, ZtpStore, scrub

BREAKER_OPTIONS = dict(
    site=dict(type="str", required=True),
    dependency=dict(type="str", default="arm"),
    database=dict(type="str", no_log=True, fallback=(env_fallback, [ENV_VAR])),
    threshold=dict(type="int", default=cb.DEFAULT_THRESHOLD),
    timeout=dict(type="int", default=cb.DEFAULT_TIMEOUT),
)

CLOUD_ARGSPEC: t.Dict[str, t.Any] = dict(AUTH_ARGSPEC)
CLOUD_ARGSPEC.update(
    resource_group=dict(type="str", required=True),
    retries=dict(type="int", default=3),
    request_timeout=dict(type="int", default=30),
    wait_timeout=dict(type="int", default=600),
    poll_interval=dict(type="int", default=5),
    breaker=dict(type="dict", options=BREAKER_OPTIONS),
)


class CloudContext:
    """What a module's work gets: the client, the subscription, and the module."""

    def __init__(self, module: t.Any, client: ArmClient, subscription_id: str) -> None:
        self.module = module
        self.client = client
        self.subscription_id = subscription_id


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _client(module: t.Any) -> CloudContext:
    params = module.params
    ca = params.get("ca_bundle") or os.environ.get("EDGEFLEET_ARM_CA_BUNDLE")
    if ca:
        params["ca_bundle"] = ca  # the token endpoint is verified with it too
    found = resolve(params)
    cred = credential(found, params)
    endpoint = params.get("arm_endpoint") or os.environ.get("EDGEFLEET_ARM_ENDPOINT") or PUBLIC_ARM
    client = ArmClient(cred, endpoint, ca_bundle=ca, retries=params["retries"], timeout=params["request_timeout"],
                       lro_timeout=params["wait_timeout"], poll_interval=params["poll_interval"])
    return CloudContext(module, client, found["subscription_id"])


def run_cloud(module: t.Any, work: t.Callable[[CloudContext], dict]) -> None:
    """Run work behind the breaker (if configured); exit the module with its result."""
    from ansible.module_utils.basic import missing_required_lib
    if not HAS_AZURE_IDENTITY:
        module.fail_json(msg=missing_required_lib("azure-identity"))
    if not HAS_AZURE_MGMT_CORE:
        module.fail_json(msg=missing_required_lib("azure-mgmt-core"))
    guard = module.params.get("breaker")
    store = None
    record = None
    try:
        if guard:
            cb.check_settings(guard["threshold"], guard["timeout"])
            store = ZtpStore(guard.get("database"), dry_run=module.check_mode, create=False)
            decision, record = ztp_breakers.admit(store, guard["site"], guard["dependency"], _now())
            if decision == cb.REJECT:
                exc = cb.BreakerOpen(guard["site"], guard["dependency"], record.get("next_retry"))
                module.fail_json(msg=str(exc), breaker_open=True, local_only=True, breaker=record)
        try:
            result = work(_client(module))
        except ArmError as exc:
            if store is not None and record is not None and exc.outage:
                record = ztp_breakers.report(store, record, _now(), str(exc), guard["threshold"], guard["timeout"])
            fields: dict = dict(status=exc.status, outage=exc.outage)
            if record is not None:
                # an outage leaves the site local only for this run, open breaker or not yet
                fields.update(breaker=record, breaker_open=record["state"] == cb.OPEN, local_only=exc.outage)
            module.fail_json(msg=str(exc), **fields)
        except AzureAuthError as exc:
            module.fail_json(msg=str(exc))
        if store is not None and record is not None:
            record = ztp_breakers.report(store, record, _now(), None, guard["threshold"], guard["timeout"])
            result["breaker"] = record
    except (ZtpError, ZtpDatabaseError, ValueError) as exc:
        url = (guard or {}).get("database") or os.environ.get(ENV_VAR, "")
        module.fail_json(msg="breaker: %s" % scrub(str(exc), url))
    finally:
        if store is not None:
            store.close()
    module.exit_json(**result)


def run_info(kind: str) -> None:
    """The whole of an _info module: read one resource of ``kind`` (a connected cluster, or an extension or
    Flux configuration of one) and exit with its state; read only, so the same in check mode."""
    argument_spec: t.Dict[str, t.Any] = dict(CLOUD_ARGSPEC)
    argument_spec.update(name=dict(type="str", required=True))
    if kind != "connectedClusters":
        argument_spec.update(cluster_name=dict(type="str", required=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    def work(ctx: CloudContext) -> dict:
        if kind == "connectedClusters":
            path = cluster_path(ctx.subscription_id, params["resource_group"], params["name"])
        else:
            path = child_path(ctx.subscription_id, params["resource_group"], params["cluster_name"], kind, params["name"])
        arm = ctx.client.get(path, API_VERSIONS[kind])
        return dict(changed=False, exists=arm is not None, **status_of(kind, arm))

    run_cloud(module, work)


def diff_keys(before: t.Any, after: t.Any, prefix: str = "") -> t.List[str]:
    """Paths where the wanted value differs from ARM's (only keys the wanted side names)."""
    if isinstance(after, dict):
        if not isinstance(before, dict):
            return [prefix or "."]
        out: t.List[str] = []
        for key, value in after.items():
            out.extend(diff_keys(before.get(key), value, "%s.%s" % (prefix, key) if prefix else key))
        return out
    return [] if before == after else [prefix or "."]
