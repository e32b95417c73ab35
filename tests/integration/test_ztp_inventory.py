# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.tests.integration.helpers import FILES, run

GOLDEN = os.path.join(FILES, "golden", "inventory_list.json")
VOLATILE = ("ztp_created_at", "ztp_updated_at", "ztp_state_changed_at")


def load_fleet(db_url, env):
    """The fleet through the data layer directly: the modules have their own tests, this keeps these fast."""
    with open(os.path.join(FILES, "fleet.yml")) as handle:
        fleet = yaml.safe_load(handle)
    with ZtpStore(db_url) as store:
        store.import_data(fleet, "golden")
        store.save_devices([{"serial": "SN-0001", "state": "discovered", "reason": "golden"},
                            {"serial": "SN-0003", "state": "failed", "reason": "golden"},
                            {"serial": "OSK-1", "state": "decommissioned", "reason": "golden"}], "golden")


def inventory_config(tmp_path, db_url, *lines):
    path = tmp_path / "fleet.ztp.yml"
    body = ["plugin: edgefleet.platform.ztp"] + (["database: %s" % db_url] if db_url else []) + list(lines)
    path.write_text("\n".join(body) + "\n")
    return str(path)


def inventory_list(config, env, *extra):
    proc = run(["ansible-inventory", "-i", config, "--list"] + list(extra), env)
    return json.loads(proc.stdout)


def normalise(listing):
    """Drop timestamps and order host lists, so the golden file is stable."""
    for hostvars in listing["_meta"]["hostvars"].values():
        for key in VOLATILE:
            assert hostvars.pop(key)
    for group in listing.values():
        if isinstance(group, dict) and "hosts" in group:
            group["hosts"] = sorted(group["hosts"])
    return listing


def test_inventory_list_matches_golden(tmp_path, db_url, ansible_env):
    """Same output on SQLite and PostgreSQL; EDGEFLEET_UPDATE_GOLDEN=1 rewrites the file."""
    load_fleet(db_url, ansible_env)
    listing = normalise(inventory_list(inventory_config(tmp_path, db_url), ansible_env))
    if os.environ.get("EDGEFLEET_UPDATE_GOLDEN") == "1" and db_url.startswith("sqlite"):
        # make runs the tests from a copy: write into the repository (EDGEFLEET_REPO_ROOT) when known
        root = os.environ.get("EDGEFLEET_REPO_ROOT")
        target = os.path.join(root, os.path.relpath(GOLDEN, os.path.join(FILES, "..", "..", ".."))) if root else GOLDEN
        with open(target, "w") as handle:
            json.dump(listing, handle, indent=2, sort_keys=True)
            handle.write("\n")
    with open(GOLDEN) as handle:
        assert listing == json.load(handle)


def test_template_in_a_label_is_never_run(tmp_path, db_url, ansible_env):
    marker = "/tmp/edgefleet-pwned"
    if os.path.exists(marker):
        os.unlink(marker)
    load_fleet(db_url, ansible_env)
    config = inventory_config(tmp_path, db_url)
    play = tmp_path / "show.yml"
    play.write_text(
        "- hosts: plant-a-c-sn0001\n  gather_facts: false\n  connection: local\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: 'note={{ ztp_labels.note }}'\n"
        "    - ansible.builtin.debug:\n        var: ztp_labels\n")
    proc = run(["ansible-playbook", "-i", config, str(play)], ansible_env)
    assert "note={{ lookup('ansible.builtin.pipe', 'touch /tmp/edgefleet-pwned') }}" in proc.stdout
    assert not os.path.exists(marker)


def test_cache_is_used_until_flushed(tmp_path, db_url, ansible_env):
    load_fleet(db_url, ansible_env)
    config = inventory_config(tmp_path, db_url, "cache: true", "cache_plugin: ansible.builtin.jsonfile",
                              "cache_connection: %s" % (tmp_path / "cache"), "cache_timeout: 3600")
    first = inventory_list(config, ansible_env)
    assert "state_discovered" in first
    with ZtpStore(db_url) as store:
        store.save_devices([{"serial": "SN-0002", "state": "discovered"}], "test")
    cached = inventory_list(config, ansible_env)
    assert sorted(cached["state_discovered"]["hosts"]) == ["plant-a-c-sn0001"]
    fresh = inventory_list(config, ansible_env, "--flush-cache")
    assert sorted(fresh["state_discovered"]["hosts"]) == ["plant-a-c-sn0001", "plant-a-c-sn0002"]
    # the cache entry holds device data only, never the database URL
    for root, _dirs, files in os.walk(str(tmp_path / "cache")):
        for name in files:
            with open(os.path.join(root, name)) as handle:
                assert db_url not in handle.read()


def test_database_from_environment_and_filters(tmp_path, db_url, ansible_env):
    load_fleet(db_url, ansible_env)
    ansible_env["EDGEFLEET_ZTP_DB"] = db_url
    config = inventory_config(tmp_path, None, "regions: [emea]", "states: [registered, discovered]")
    listing = inventory_list(config, ansible_env)
    assert sorted(listing["_meta"]["hostvars"]) == ["hub-emea-01", "plant-a-c-sn0001", "plant-a-c-sn0002", "plantb-c-in7731"]


def test_unknown_plugin_file_name_is_declined(tmp_path, db_url, ansible_env):
    path = tmp_path / "hosts.yml"
    path.write_text("plugin: edgefleet.platform.ztp\ndatabase: %s\n" % db_url)
    proc = run(["ansible-inventory", "-i", str(path), "--list", "-vvv"], ansible_env, check=False)
    assert "did not pass its verify_file() method" in proc.stdout + proc.stderr
