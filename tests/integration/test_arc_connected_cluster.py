# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""arc_connected_cluster through ansible-playbook against the fake ARM (a separate process, TLS).

Every row of the re-onboard table, idempotence, check mode, diff, the private key never in output at
-vvv, 401 / 429 Retry-After / 500 series, and the breaker (fake down: fail fast, open; back: closed).
Each test ends by asserting the fake saw no request that breaks Microsoft's spec.
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import datetime, timezone

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import cloud_breaker as cb
from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_breakers
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

from .helpers import PLAYBOOKS, recap, run

# fake_arm_process: the fixture `fake`
from .fake_arm import SUBSCRIPTION, arm_env, fake_arm_process, server  # noqa: F401  pylint: disable=unused-import

PLAYBOOK = os.path.join(PLAYBOOKS, "arc_connected_cluster.yml")
CC = "/subscriptions/%s/resourcegroups/rg1/providers/microsoft.kubernetes/connectedclusters/c1" % SUBSCRIPTION


@pytest.fixture
def arm(fake, tmp_path):
    env = arm_env(fake, tmp_path, AZURE_SUBSCRIPTION_ID=SUBSCRIPTION, AZURE_CLIENT_ID=server.CLIENT_ID,
                  AZURE_SECRET=server.CLIENT_SECRET, AZURE_TENANT=server.TENANT, AZURE_AUTHORITY_HOST=fake.url)
    yield fake, env, str(tmp_path / "arc-key.pem")
    assert fake.log()["violations"] == []


def play(env, key, *flags, check=True, **extra):
    extra.setdefault("arc_key", key)
    proc = run(["ansible-playbook", PLAYBOOK, "-e", json.dumps(extra)] + list(flags), env, check=check)
    found = re.search(r'"arc_result": (\{.*?\n    \})\n\}', proc.stdout, re.S)
    result = json.loads(found.group(1)) if found else None
    if result is None:  # a failed task prints its result on the fatal line
        failed = re.search(r"FAILED! => (\{.*\})\s*$", proc.stdout, re.M)
        result = json.loads(failed.group(1)) if failed else {}
    return proc, result


def requests(fake, method=None):
    return [(r["method"], r["status"]) for r in fake.log()["requests"]
            if "operationStatuses" not in r["path"] and (method is None or r["method"] == method)]


def stored(fake):
    return fake.control("GET", "/_fake/resources").get(CC.lower())


def test_fresh_onboard_then_no_change(arm):
    fake, env, key = arm
    proc, result = play(env, key, "--diff", arc_tags={"site": "plant-a"})
    assert result["action"] == "onboard" and result["agents"] == "install" and result["changed"] is True
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert result["connectivity_status"] in ("Connecting", "Connected") and result["certificate_expiry"]
    assert '"site": "plant-a"' in proc.stdout  # the diff
    assert requests(fake) == [("GET", 404), ("PUT", 201), ("GET", 200)]
    proc, again = play(env, key, arc_tags={"site": "plant-a"})
    assert again["action"] == "none" and recap(proc.stdout)["localhost"]["changed"] == 0
    assert requests(fake, "PUT") == [("PUT", 201)]


def test_check_mode_changes_nothing(arm):
    fake, env, key = arm
    proc, result = play(env, key, "--check", "--diff")
    assert result["action"] == "onboard" and result["changed"] is True
    assert not os.path.exists(key)
    assert requests(fake) == [("GET", 404)]


def test_changed_tags_re_put_with_the_existing_public_key(arm):
    fake, env, key = arm
    play(env, key, arc_tags={"site": "plant-a"}, arc_cluster_config={})
    first_key = stored(fake)["properties"]["agentPublicKeyCertificate"]
    os.unlink(key)  # the key is not needed to re-PUT: the agents are onboarded as this resource
    config = {"AZURE_RESOURCE_GROUP": "rg1", "AZURE_RESOURCE_NAME": "c1"}
    proc, result = play(env, key, arc_tags={"site": "plant-a", "line": "2"}, arc_cluster_config=config)
    assert result["action"] == "update" and result["agents"] == "keep"
    assert stored(fake)["properties"]["agentPublicKeyCertificate"] == first_key
    assert stored(fake)["tags"] == {"site": "plant-a", "line": "2"}
    assert not os.path.exists(key)


def test_agents_onboarded_elsewhere_is_a_conflict_naming_it(arm):
    fake, env, key = arm
    config = {"AZURE_RESOURCE_GROUP": "rg-other", "AZURE_RESOURCE_NAME": "somewhere"}
    proc, result = play(env, key, check=False, arc_cluster_config=config)
    assert proc.returncode != 0 and result.get("conflict") is True
    assert "rg-other" in result["msg"] and "somewhere" in result["msg"]
    assert requests(fake, "PUT") == [] and not os.path.exists(key)


def test_a_resource_of_another_cluster_is_a_conflict(arm, tmp_path):
    fake, env, key = arm
    play(env, str(tmp_path / "other-cluster.pem"))  # another cluster took the name
    proc, result = play(env, key, check=False)
    assert proc.returncode != 0 and "different Kubernetes cluster" in result["msg"]
    assert requests(fake, "PUT") == [("PUT", 201)] and requests(fake, "DELETE") == []


def test_agents_without_a_resource_onboard_fresh_and_reinstall(arm):
    fake, env, key = arm
    proc, result = play(env, key, arc_cluster_config={"AZURE_RESOURCE_GROUP": "rg1", "AZURE_RESOURCE_NAME": "c1"})
    assert (result["action"], result["agents"]) == ("onboard", "reinstall")


def test_force_reonboard_deletes_and_onboards_with_a_new_key(arm, tmp_path):
    fake, env, key = arm
    play(env, str(tmp_path / "other-cluster.pem"))
    theirs = stored(fake)["properties"]["agentPublicKeyCertificate"]
    proc, result = play(env, key, arc_force=True)
    assert (result["action"], result["agents"]) == ("reonboard", "reinstall")
    assert requests(fake, "DELETE") == [("DELETE", 202)]
    assert stored(fake)["properties"]["agentPublicKeyCertificate"] != theirs


def test_the_private_key_never_appears_at_vvv(arm):
    fake, env, key = arm
    proc = play(env, key, "-vvv")[0]
    with open(key, encoding="ascii") as fh:
        body = "".join(line.strip() for line in fh if "-----" not in line)
    output = re.sub(r"\s", "", proc.stdout + proc.stderr)
    public = stored(fake)["properties"]["agentPublicKeyCertificate"]
    # the PEM holds the public modulus too (and base64 aligns it with the public key's): only the
    # windows that are not public are secret; more than 2/3 of a 4096-bit key's PEM is
    secret = [body[i:i + 48] for i in range(0, len(body) - 48, 16) if body[i:i + 48] not in public]
    assert len(secret) > len(body) // 16 // 2
    for piece in secret:
        assert piece not in output
    assert server.CLIENT_SECRET not in proc.stdout + proc.stderr


def test_401_fails_with_the_reason(arm):
    fake, env, key = arm
    fake.control("POST", "/_fake/faults", {"path_contains": "connectedClusters", "status": 401, "times": 5})
    proc, result = play(env, key, check=False)
    assert proc.returncode != 0 and "authentication refused" in result["msg"] and result["outage"] is False


def test_429_retry_after_is_honoured(arm):
    fake, env, key = arm
    fake.control("POST", "/_fake/faults", {"method": "GET", "path_contains": "connectedClusters", "status": 429,
                                           "retry_after": 1, "times": 2})
    proc, result = play(env, key)
    assert result["action"] == "onboard"
    gets = [r for r in fake.log()["requests"] if r["method"] == "GET" and "operationStatuses" not in r["path"]]
    assert [r["status"] for r in gets[:3]] == [429, 429, 404]
    assert gets[2]["at"] - gets[0]["at"] >= 2.0


def test_500_series_fails_after_the_retries(arm):
    fake, env, key = arm
    fake.control("POST", "/_fake/faults", {"path_contains": "connectedClusters", "status": 503, "times": 10})
    proc, result = play(env, key, check=False, arc_retries=2)
    assert proc.returncode != 0 and result["status"] == 503 and result["outage"] is True
    assert requests(fake) == [("GET", 503)] * 3


def test_an_open_breaker_fails_fast_without_a_request(arm, tmp_path):

    fake, env, key = arm
    url = "sqlite:///%s" % (tmp_path / "ztp.db")
    with ZtpStore(url) as store:
        store.import_data({"regions": ["emea"], "sites": [{"name": "plant-a", "region": "emea", "topology": "single_node"}]}, "t")
        ztp_breakers.report(store, cb.new_record("plant-a", "arm"), datetime.now(timezone.utc), "down", threshold=1, timeout=600)
    breaker = {"site": "plant-a", "database": url, "threshold": 1, "timeout": 600}
    proc, result = play(env, key, check=False, arc_breaker=breaker)
    assert proc.returncode != 0 and result["breaker_open"] is True and result["local_only"] is True
    assert "fail fast" in result["msg"]
    assert fake.log()["requests"] == []  # not even a token request reached the fake


def test_outages_open_the_breaker_and_a_success_closes_it(arm, tmp_path):
    fake, env, key = arm
    url = "sqlite:///%s" % (tmp_path / "ztp.db")
    with ZtpStore(url) as store:
        store.import_data({"regions": ["emea"], "sites": [{"name": "plant-a", "region": "emea", "topology": "single_node"}]}, "t")
    breaker = {"site": "plant-a", "database": url, "threshold": 2, "timeout": 0}
    fake.control("POST", "/_fake/faults", {"path_contains": "connectedClusters", "status": 503, "times": 2})
    proc, result = play(env, key, check=False, arc_breaker=breaker, arc_retries=0)
    assert result["breaker"]["state"] == "closed" and result["breaker"]["failures"] == 1
    proc, result = play(env, key, check=False, arc_breaker=breaker, arc_retries=0)
    assert result["breaker_open"] is True and result["breaker"]["state"] == "open"
    # timeout 0: the next call is the half-open trial, and the fake answers again
    proc, result = play(env, key, arc_breaker=breaker)
    assert result["action"] == "onboard" and result["breaker"]["state"] == "closed"
    with ZtpStore(url) as store:
        assert ztp_breakers.breaker(store, "plant-a", "arm")["state"] == "closed"
