# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The re-onboard table, row by row, and the key pair's format."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.edgefleet.platform.plugins.module_utils import arc_onboard as ob

WANTED = {"location": "westeurope", "tags": {"site": "plant-a"}, "identity": {"type": "SystemAssigned"},
          "properties": {"distribution": "k3s", "infrastructure": "generic"}}
OURS = {"AZURE_RESOURCE_GROUP": "rg1", "AZURE_RESOURCE_NAME": "c1"}


def arm(key="KEY", **changes):
    res = {"location": "westeurope", "tags": {"site": "plant-a"},
           "properties": {"agentPublicKeyCertificate": key, "distribution": "k3s", "infrastructure": "generic"}}
    res.update(changes)
    return res


def decide(config, resource, local=None, force=False):
    return ob.decide(config, resource, "rg1", "c1", WANTED, local, force)


def test_agents_name_it_and_arm_is_as_wanted_no_change():
    d = decide(OURS, arm())
    assert (d.action, d.agents, d.public_key) == (ob.NONE, "keep", None)


def test_names_compare_case_insensitively_as_arm_does():
    assert decide({"AZURE_RESOURCE_GROUP": "RG1", "AZURE_RESOURCE_NAME": "C1"}, arm()).action == ob.NONE


def test_agents_name_it_and_arm_differs_re_put_with_arms_key():
    d = decide(OURS, arm(tags={"site": "old"}), local="OTHER")
    assert (d.action, d.public_key, d.agents) == (ob.UPDATE, "KEY", "keep")
    assert "tags" in d.reason


def test_location_compares_without_spaces_and_case():
    assert decide(OURS, arm(location="West Europe")).action == ob.NONE


def test_agents_onboarded_elsewhere_conflict_naming_it():
    d = decide({"AZURE_RESOURCE_GROUP": "rg9", "AZURE_RESOURCE_NAME": "other"}, arm())
    assert d.action == ob.CONFLICT and "rg9" in d.reason and "other" in d.reason


def test_no_agents_but_a_resource_with_another_key_conflict():
    d = decide(None, arm(key="THEIRS"), local="MINE")
    assert d.action == ob.CONFLICT and "different Kubernetes cluster" in d.reason
    assert decide(None, arm(key="THEIRS"), local=None).action == ob.CONFLICT


def test_no_agents_and_a_resource_with_our_key_is_ours():
    d = decide(None, arm(key="MINE"), local="MINE")
    assert (d.action, d.agents) == (ob.NONE, "install")
    assert decide(None, arm(key="MINE", tags={}), local="MINE").action == ob.UPDATE


def test_nothing_anywhere_fresh_onboard():
    d = decide(None, None)
    assert (d.action, d.agents) == (ob.ONBOARD, "install")


def test_agents_but_no_resource_fresh_onboard_reinstalls_agents():
    d = decide(OURS, None)
    assert (d.action, d.agents) == (ob.ONBOARD, "reinstall")


@pytest.mark.parametrize("config,resource", [
    ({"AZURE_RESOURCE_GROUP": "rg9", "AZURE_RESOURCE_NAME": "other"}, arm()),
    (None, arm(key="THEIRS")),
    (OURS, arm()),
])
def test_force_reonboard_turns_conflicts_and_existing_resources_into_reonboard(config, resource):
    d = decide(config, resource, local="MINE", force=True)
    assert (d.action, d.agents) == (ob.REONBOARD, "reinstall")


def test_force_without_a_resource_is_a_plain_onboard():
    assert decide(None, None, force=True).action == ob.ONBOARD


def test_the_key_pair_has_the_agents_format(tmp_path):
    pem = ob.new_private_key()
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    public = ob.public_key_of(pem)
    der = base64.b64decode(public)
    loaded = serialization.load_der_public_key(
        serialization.load_pem_private_key(pem, None).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert loaded.key_size == 4096
    # PKCS#1 RSAPublicKey: the DER is a SEQUENCE of modulus and exponent, not SubjectPublicKeyInfo
    assert der == serialization.load_pem_private_key(pem, None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    path = str(tmp_path / "k.pem")
    ob.write_private_key(path, pem)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ob.read_private_key(path) == pem


def test_a_readable_key_file_is_refused(tmp_path):
    path = tmp_path / "k.pem"
    path.write_bytes(b"x")
    os.chmod(path, 0o644)
    with pytest.raises(ValueError, match="0600"):
        ob.read_private_key(str(path))
    assert ob.read_private_key(str(tmp_path / "missing.pem")) is None
