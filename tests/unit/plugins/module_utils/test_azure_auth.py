# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the Azure credential comes from: azure.azcollection's order and names."""

from __future__ import annotations

import json

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.azure_auth import AzureAuthError, resolve

SP = {"subscription_id": "sub", "tenant": "ten", "client_id": "app"}


def test_auto_prefers_the_modules_options(tmp_path):
    env = {"HOME": str(tmp_path), "AZURE_CLIENT_ID": "env-app", "AZURE_SECRET": "env-s", "AZURE_TENANT": "t"}
    found = resolve(dict(SP, secret="s"), env)
    assert (found["source"], found["client_id"], found["kind"]) == ("params", "app", "secret")


def test_auto_then_the_environment_with_azcollection_names(tmp_path):
    env = {"HOME": str(tmp_path), "AZURE_CLIENT_ID": "app", "AZURE_SECRET": "s", "AZURE_TENANT": "t",
           "AZURE_SUBSCRIPTION_ID": "sub", "AZURE_CLIENT_SECRET": "ignored"}
    found = resolve({}, env)
    assert (found["source"], found["secret"], found["tenant"]) == ("env", "s", "t")


def test_auto_then_the_credential_file_profile(tmp_path):
    (tmp_path / ".azure").mkdir()
    (tmp_path / ".azure" / "credentials").write_text(
        "[default]\nsubscription_id=s0\nclient_id=a0\nsecret=x0\ntenant=t0\n"
        "[edge]\nsubscription_id=s1\nclient_id=a1\ncert_path=/c.pem\ntenant=t1\n")
    assert resolve({}, {"HOME": str(tmp_path)})["client_id"] == "a0"
    found = resolve({"profile": "edge"}, {"HOME": str(tmp_path)})
    assert (found["source"], found["kind"], found["x509_certificate_path"]) == ("credential_file", "x509_certificate_path", "/c.pem")
    with pytest.raises(AzureAuthError, match="no \\[nope\\] profile"):
        resolve({"profile": "nope"}, {"HOME": str(tmp_path)})


def test_auto_then_the_cli_with_its_default_subscription(tmp_path):
    (tmp_path / ".azure").mkdir()
    (tmp_path / ".azure" / "azureProfile.json").write_text(json.dumps(
        {"subscriptions": [{"id": "a", "isDefault": False}, {"id": "b", "isDefault": True}]}))
    found = resolve({}, {"HOME": str(tmp_path)})
    assert (found["source"], found["subscription_id"]) == ("cli", "b")


def test_auth_source_from_ansible_azure_auth_source(tmp_path):
    found = resolve({"subscription_id": "s"}, {"HOME": str(tmp_path), "ANSIBLE_AZURE_AUTH_SOURCE": "msi"})
    assert found["source"] == "msi"


@pytest.mark.parametrize("extra,kind", [({"x509_certificate_path": "/c.pem"}, "x509_certificate_path"),
                                        ({"oidc_token": "jwt"}, "oidc_token"),
                                        ({"oidc_token_file_path": "/t"}, "oidc_token_file_path")])
def test_certificate_and_federated_principals(extra, kind):
    assert resolve(dict(SP, **extra), {"HOME": "/nonexistent"})["kind"] == kind


def test_exactly_one_credential_kind():
    with pytest.raises(AzureAuthError, match="exactly one"):
        resolve(dict(SP, secret="s", oidc_token="t"), {"HOME": "/nonexistent"})
    with pytest.raises(AzureAuthError, match="tenant is required"):
        resolve({"subscription_id": "s", "client_id": "a", "secret": "x"}, {"HOME": "/nonexistent"})


def test_a_subscription_is_required(tmp_path):
    with pytest.raises(AzureAuthError, match="no subscription"):
        resolve({"auth_source": "env", "client_id": "a", "secret": "s", "tenant": "t"}, {"HOME": str(tmp_path)})
