# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""arc_extension and flux_configuration (and their _info) through ansible-playbook against the fake ARM."""

from __future__ import annotations

import json
import os
import re

import pytest

from .helpers import PLAYBOOKS, recap, run

# fake_arm_process: the fixture `fake`
from .fake_arm import SUBSCRIPTION, arm_env, fake_arm_process, server  # noqa: F401  pylint: disable=unused-import

PLAYBOOK = os.path.join(PLAYBOOKS, "arc_flux.yml")
FLUX = ("/subscriptions/%s/resourcegroups/rg1/providers/microsoft.kubernetes/connectedclusters/c1"
        "/providers/microsoft.kubernetesconfiguration/fluxconfigurations/fleet" % SUBSCRIPTION)


@pytest.fixture
def arm(fake, tmp_path):
    env = arm_env(fake, tmp_path, AZURE_SUBSCRIPTION_ID=SUBSCRIPTION, AZURE_CLIENT_ID=server.CLIENT_ID,
                  AZURE_TENANT=server.TENANT, AZURE_AUTHORITY_HOST=fake.url, AZURE_CERT_PATH=fake.client_pem)
    yield fake, env, str(tmp_path / "arc-key.pem")
    assert fake.log()["violations"] == []


def play(env, key, *flags, **extra):
    extra["arc_key"] = key
    proc = run(["ansible-playbook", PLAYBOOK, "-e", json.dumps(extra)] + list(flags), env)
    found = re.search(r'"msg": "(\{.*\})"\s*$', proc.stdout, re.M)
    return proc, json.loads(json.loads('"%s"' % found.group(1)))


def writes(fake):
    return [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in fake.log()["requests"]
            if r["method"] in ("PUT", "PATCH", "DELETE")]


def test_extension_then_flux_to_compliant_then_idempotent(arm):
    fake, env, key = arm  # a certificate service principal, from the environment
    proc, out = play(env, key)
    assert out["extension"]["changed"] and out["config"]["method"] == "PUT"
    assert out["state"]["compliance_state"] == "Compliant"
    assert "extension-protected-value" not in proc.stdout and "Zmx1eC1wcm90ZWN0ZWQtdmFsdWU=" not in proc.stdout
    assert writes(fake) == [("PUT", "connectedClusters"), ("PUT", "extensions"), ("PUT", "fluxConfigurations")]
    proc, out = play(env, key)
    assert recap(proc.stdout)["localhost"]["changed"] == 0
    assert len(writes(fake)) == 3


def test_check_mode_sends_no_write(arm):
    fake, env, key = arm
    proc, out = play(env, key, "--check")
    assert out["config"]["changed"] and out["config"]["method"] == "PUT"
    assert writes(fake) == []


def test_a_changed_kustomization_is_patched(arm):
    fake, env, key = arm
    play(env, key)
    changed = [{"name": "infra", "path": "./clusters/emea/plant-a/c1/infra", "prune": True, "sync_interval": 300},
               {"name": "apps", "path": "./clusters/emea/plant-a/c1/apps", "depends_on": ["infra"], "prune": True}]
    proc, out = play(env, key, "--diff", flux_kustomizations=changed)
    assert (out["config"]["method"], out["config"]["changes"]) == ("PATCH", ["kustomizations"])
    stored = fake.control("GET", "/_fake/resources")[FLUX]
    assert stored["properties"]["kustomizations"]["infra"]["syncIntervalInSeconds"] == 300


def test_removing_a_pruning_kustomization_warns_and_replaces(arm):
    fake, env, key = arm
    play(env, key)
    only_infra = [{"name": "infra", "path": "./clusters/emea/plant-a/c1/infra", "prune": True}]
    proc, out = play(env, key, flux_kustomizations=only_infra)
    assert out["config"]["method"] == "PUT" and out["config"]["pruned"] == ["apps"]
    assert "kustomization apps has prune enabled" in proc.stdout + proc.stderr
    stored = fake.control("GET", "/_fake/resources")[FLUX]
    assert sorted(stored["properties"]["kustomizations"]) == ["infra"]
