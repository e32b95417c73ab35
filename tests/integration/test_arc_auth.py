# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""auth_source cli and msi end to end: arc_connected_cluster through ansible against the fake ARM.

cli: azure-identity's AzureCliCredential runs ``az`` from PATH; the test double tests/fakes/az/az.py
(linked as az) is first on it, logged in (a fake profile under $HOME/.azure) or not. msi: ManagedIdentityCredential
takes the App Service style flow (IDENTITY_ENDPOINT + IDENTITY_HEADER) to the fake's /msi/token, or, with
neither set, the Azure VM flow to the fake's IMDS token endpoint through AZURE_POD_IDENTITY_AUTHORITY_HOST:
never the real IMDS (169.254.169.254). Each test checks the token never shows in -vvv output.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from .helpers import run

# fake_arm_process: the fixture `fake`
from .fake_arm import REPO, SUBSCRIPTION, arm_env, fake_arm_process, server  # noqa: F401  pylint: disable=unused-import

AZ = os.path.join(REPO, "tests", "fakes", "az", "az.py")
CC = "/subscriptions/%s/resourcegroups/rg1/providers/microsoft.kubernetes/connectedclusters/c1" % SUBSCRIPTION


@pytest.fixture
def arm(fake, tmp_path):
    """No service principal anywhere in the environment: only the source under test can authenticate."""
    env = arm_env(fake, tmp_path, dict((k, v) for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "IMDS_", "MSI_"))))
    yield fake, env, tmp_path
    assert fake.log()["violations"] == []


def cluster(env, tmp_path, source, *flags, **extra):
    """arc_connected_cluster (present) in a one-task play: its result (ok or failed), the whole output."""
    args = {"name": "c1", "resource_group": "rg1", "location": "westeurope", "auth_source": source, "cluster_config": {},
            "private_key_path": str(tmp_path / "arc-key.pem"), "poll_interval": 1, "retries": 0}
    args.update(extra)
    if source is None:  # from ANSIBLE_AZURE_AUTH_SOURCE, as azure.azcollection takes it
        del args["auth_source"]
    play = [{"name": "Auth", "hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "Register", "edgefleet.platform.arc_connected_cluster": args, "register": "arc_result"},
                       {"name": "Show", "ansible.builtin.debug": {"var": "arc_result"}}]}]
    playbook = tmp_path / "auth.yml"
    playbook.write_text(json.dumps(play))  # JSON is YAML
    proc = run(["ansible-playbook", str(playbook)] + list(flags), env, check=False)
    found = re.search(r'"arc_result": (\{.*?\n    \})\n\}', proc.stdout, re.S)
    if found:
        return proc, json.loads(found.group(1))
    failed = re.search(r"FAILED! => (\{.*\})\s*$", proc.stdout, re.M)
    return proc, json.loads(failed.group(1)) if failed else {}


def az_login(env, tmp_path, fake, subscriptions=True):
    """What `az login --service-principal` leaves behind, in the fake's terms (see tests/fakes/az/az.py)."""
    azure = tmp_path / ".azure"
    azure.mkdir(exist_ok=True)
    subs = [{"id": SUBSCRIPTION, "name": "edgefleet-test", "isDefault": True, "state": "Enabled", "tenantId": server.TENANT,
             "environmentName": "AzureCloud", "user": {"name": server.CLIENT_ID, "type": "servicePrincipal"}}]
    (azure / "azureProfile.json").write_text(json.dumps({"installationId": "fake", "subscriptions": subs if subscriptions else []}))
    (azure / "fake_az_login.json").write_text(json.dumps({"authority": fake.url, "ca": fake.ca, "secret": server.CLIENT_SECRET}))
    bin_dir = tmp_path / "bin"  # az by its own name, first on PATH
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "az").exists():
        (bin_dir / "az").symlink_to(AZ)
    env["PATH"] = str(bin_dir) + os.pathsep + env["PATH"]


def arm_calls(fake):
    return [(r["method"], r["status"]) for r in fake.log()["requests"]
            if r["path"].lower().startswith("/subscriptions/") and "operationStatuses" not in r["path"]]


def issued_tokens(fake):
    with open(os.path.join(fake.dir, "state.json"), encoding="utf-8") as fh:
        return json.load(fh)["tokens"]


def test_cli_login_onboards_with_the_profile_subscription(arm):
    fake, env, tmp_path = arm
    az_login(env, tmp_path, fake)
    proc, result = cluster(env, tmp_path, "cli", "-vvv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["action"] == "onboard" and result["changed"] is True
    assert arm_calls(fake) == [("GET", 404), ("PUT", 201), ("GET", 200)]
    assert CC in fake.control("GET", "/_fake/resources")  # the subscription of azureProfile.json
    tokens = issued_tokens(fake)
    assert tokens and all(tok not in proc.stdout + proc.stderr for tok in tokens)
    assert server.CLIENT_SECRET not in proc.stdout + proc.stderr


def test_cli_not_logged_in_fails_clearly(arm):
    fake, env, tmp_path = arm
    az_login(env, tmp_path, fake, subscriptions=False)
    env["AZURE_SUBSCRIPTION_ID"] = SUBSCRIPTION  # resolve() has a subscription; az has no login
    proc, result = cluster(env, tmp_path, "cli")
    assert proc.returncode != 0
    assert "az login" in result["msg"] and "Traceback" not in proc.stdout + proc.stderr
    assert arm_calls(fake) == []
    assert server.CLIENT_SECRET not in proc.stdout + proc.stderr


def test_the_az_double_refuses_what_az_refuses(arm):
    fake, env, tmp_path = arm
    az_login(env, tmp_path, fake)
    az = str(tmp_path / "bin" / "az")
    good = run([az, "account", "get-access-token", "--output", "json", "--resource", fake.url], env)
    token = json.loads(good.stdout)
    assert token["subscription"] == SUBSCRIPTION and token["tenant"] == server.TENANT and token["accessToken"].startswith("fake-arm-")
    for argv, code in ((["--output", "json", "--resource", fake.url, "--bogus"], 2),
                       (["--resource", fake.url, "--scope", fake.url + "/.default"], 2),
                       (["--resource", fake.url, "--tenant", server.TENANT, "--subscription", SUBSCRIPTION], 2),
                       (["--resource", fake.url, "--tenant", "00000000-0000-0000-0000-0000000000bb"], 1)):
        bad = run([az, "account", "get-access-token"] + argv, env, check=False)
        assert bad.returncode == code and bad.stdout == "" and bad.stderr.startswith("ERROR:"), argv


def msi_env(env, fake, header=server.MSI_HEADER):
    env.update(IDENTITY_ENDPOINT=fake.url + server.MSI_PATH, IDENTITY_HEADER=header, AZURE_SUBSCRIPTION_ID=SUBSCRIPTION,
               REQUESTS_CA_BUNDLE=fake.ca)  # the fake's endpoint is TLS with its own CA (a real host's is http on loopback)


def test_msi_onboards_through_the_identity_endpoint(arm):
    fake, env, tmp_path = arm
    msi_env(env, fake)
    proc, result = cluster(env, tmp_path, "msi", "-vvv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["action"] == "onboard" and result["changed"] is True
    msi = [r for r in fake.log()["requests"] if r["path"] == server.MSI_PATH]
    assert [(r["api_version"], r["status"]) for r in msi] == [(server.MSI_API_VERSION, 200)]
    assert arm_calls(fake) == [("GET", 404), ("PUT", 201), ("GET", 200)]
    tokens = [tok for tok in issued_tokens(fake) if tok.startswith("fake-arm-msi-")]
    assert tokens and all(tok not in proc.stdout + proc.stderr for tok in tokens)
    assert server.MSI_HEADER not in proc.stdout + proc.stderr


def test_msi_with_a_wrong_identity_header_is_refused(arm):
    fake, env, tmp_path = arm
    msi_env(env, fake, header="not-the-host-header")
    env["ANSIBLE_AZURE_AUTH_SOURCE"] = "msi"  # the source from the environment this time
    proc, result = cluster(env, tmp_path, None)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "X-IDENTITY-HEADER" in result["msg"], result
    assert [r["status"] for r in fake.log()["requests"] if r["path"] == server.MSI_PATH] == [401]
    assert arm_calls(fake) == []
    assert "not-the-host-header" not in proc.stdout + proc.stderr


def imds_env(env, fake):
    """No managed identity endpoint in the environment: the Azure VM flow, to the fake's IMDS instead of 169.254.169.254."""
    assert not any(k in env for k in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"))
    env.update(AZURE_POD_IDENTITY_AUTHORITY_HOST=fake.url, AZURE_SUBSCRIPTION_ID=SUBSCRIPTION, REQUESTS_CA_BUNDLE=fake.ca)


def test_msi_onboards_through_imds(arm):
    fake, env, tmp_path = arm
    imds_env(env, fake)
    proc, result = cluster(env, tmp_path, "msi", "-vvv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["action"] == "onboard" and result["changed"] is True
    # one token request, no probe first (the credential is used alone, not in a chain), the Metadata header sent
    identity = [(r["path"], r.get("api_version"), r.get("metadata"), r["status"]) for r in fake.log()["requests"]
                if not r["path"].lower().startswith("/subscriptions/")]
    assert identity == [(server.IMDS_PATH, "2018-02-01", "true", 200)]
    assert arm_calls(fake) == [("GET", 404), ("PUT", 201), ("GET", 200)]
    # every ARM call (the LRO polls too) carried the IMDS-issued token
    assert set(r.get("token_from") for r in fake.log()["requests"] if r["path"].lower().startswith("/subscriptions/")) == {"imds"}
    tokens = [tok for tok in issued_tokens(fake) if tok.startswith("fake-arm-imds-")]
    assert tokens and all(tok not in proc.stdout + proc.stderr for tok in tokens)


def test_msi_with_an_identity_imds_does_not_have_is_refused(arm):
    fake, env, tmp_path = arm
    imds_env(env, fake)
    # a user-assigned identity this VM does not have
    proc, result = cluster(env, tmp_path, "msi", client_id="00000000-0000-0000-0000-0000000000ff")
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "Identity not found" in result["msg"], result
    assert [r["status"] for r in fake.log()["requests"] if r["path"] == server.IMDS_PATH] == [400]
    assert arm_calls(fake) == []
