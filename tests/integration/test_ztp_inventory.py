# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys

import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_breakers
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.tests.integration.helpers import FILES, run

GOLDEN = os.path.join(FILES, "golden", "inventory_list.json")
VOLATILE = ("ztp_created_at", "ztp_updated_at", "ztp_state_changed_at")
NOTE = "{{ lookup('ansible.builtin.pipe', 'touch /tmp/edgefleet-pwned') }}"  # a label of SN-0001 in fleet.yml


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


def awx_import(config, env, tmp_path):
    """The inventory as AWX's inventory update reads it: `ansible-inventory --list --export` into an
    output file, loaded with the standard library's json (no Ansible decoder)."""
    out = tmp_path / "awx-import.json"
    run(["ansible-inventory", "-i", config, "--playbook-dir", str(tmp_path), "--list", "--export", "--output", str(out)], env)
    with open(str(out), encoding="utf-8") as handle:
        return json.load(handle)


def awx_job_inventory(listing, tmp_path):
    """What AWX gives a job later: the stored groups and variables, printed by an executable script
    (ansible-core reads it with its script plugin)."""
    data = dict(listing, _meta={"hostvars": listing["_meta"]["hostvars"]})
    path = tmp_path / "awx_inventory.py"
    path.write_text("#!%s\n# -*- coding: utf-8 -*-\nprint(%r)\n" % (sys.executable, json.dumps(data)))
    path.chmod(stat.S_IRWXU)
    return str(path)


def could_template(value):
    """Written again here, not imported: a brace (every Jinja delimiter has one) or a #jinja2: header."""
    return "{" in value or "}" in value or "#jinja2:" in value


def tamper_label(db_url, serial, key, value):
    """Write a label behind the model's back (it refuses newlines, which a #jinja2: header needs)."""
    if db_url.startswith("sqlite:///"):
        conn, mark = sqlite3.connect(db_url[len("sqlite:///"):]), "?"
    else:
        import psycopg
        conn, mark = psycopg.connect(db_url), "%s"
    try:
        labels = json.loads(conn.execute("SELECT labels FROM devices WHERE serial = %s" % mark, (serial,)).fetchone()[0])
        labels[key] = value
        conn.execute("UPDATE devices SET labels = %s WHERE serial = %s" % (mark, mark), (json.dumps(labels), serial))
        conn.commit()
    finally:
        conn.close()


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
    """The JSON AWX imports, the same on SQLite and PostgreSQL; EDGEFLEET_UPDATE_GOLDEN=1 rewrites the file."""
    load_fleet(db_url, ansible_env)
    listing = normalise(awx_import(inventory_config(tmp_path, db_url), ansible_env, tmp_path))
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
    assert "note=" + NOTE in proc.stdout
    assert not os.path.exists(marker)


def test_awx_import_holds_database_strings_as_strings(tmp_path, db_url, ansible_env):
    """Every host var that is a string in the database is a JSON string in what AWX imports, except
    a value that could hold a template: that one stays {"__ansible_unsafe": ...} (see the plugin docs)."""
    load_fleet(db_url, ansible_env)
    header = "#jinja2:variable_start_string:'[[',variable_end_string:']]'\n[[ 6 * 7 ]]"
    tamper_label(db_url, "SN-0001", "header", header)
    # an open cloud breaker of SN-0001's site, whose last error (ARM's text) holds a template
    with ZtpStore(db_url) as store:
        site = [d for d in store.devices(with_facts=False) if d["serial"] == "SN-0001"][0]["site"]
        ztp_breakers.save_breaker(store, {"site": site, "dependency": "arm", "state": "open", "failures": 3,
                                          "opened_at": "2026-12-03T10:00:00Z", "next_retry": "2026-12-03T10:05:00Z",
                                          "last_error": "403 {{ lookup('pipe', 'id') }}"})
    listing = awx_import(inventory_config(tmp_path, db_url), ansible_env, tmp_path)
    with ZtpStore(db_url) as store:
        devices = dict((d["hostname"], d) for d in store.devices(with_facts=False, include_decommissioned=False))
        stored = ztp_breakers.breakers(store)
    # the ztp_cloud_* variables from the stored breakers of each device's site
    cloud = dict((rec["site"], {"ztp_cloud_breakers": {rec["dependency"]: dict(
        (k, rec[k]) for k in ("state", "failures", "opened_at", "next_retry", "last_error"))},
        "ztp_cloud_state": rec["state"], "ztp_cloud_next_retry": rec["next_retry"]}) for rec in stored)
    closed = {"ztp_cloud_breakers": {}, "ztp_cloud_state": "closed", "ztp_cloud_next_retry": None}
    hostvars = listing["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(devices)
    seen = {"plain": 0, "wrapped": []}

    def same(db, exported, where):
        if isinstance(db, str):
            if could_template(db):
                assert exported == {"__ansible_unsafe": db}, where
                seen["wrapped"].append(where)
            else:
                assert isinstance(exported, str) and exported == db, (where, exported)
                seen["plain"] += 1
        elif isinstance(db, dict):
            assert isinstance(exported, dict) and sorted(exported) == sorted(db), where
            for key in db:
                same(db[key], exported[key], where + (key,))
        elif isinstance(db, list):
            assert isinstance(exported, list) and len(exported) == len(db), where
            for index, item in enumerate(db):
                same(item, exported[index], where + (index,))
        else:
            assert exported == db and isinstance(exported, type(db)), (where, exported)

    for name, device in devices.items():
        record = dict(device, **(device.get("hardware") or {}))
        for var, value in hostvars[name].items():
            if var == "ansible_host":
                same(record["ip"], value, (name, var))
            elif var.startswith("ztp_cloud_"):
                same(cloud.get(device["site"], closed)[var], value, (name, var))
            elif var.startswith("ztp_"):
                same(record[var[len("ztp_"):]], value, (name, var))
            else:  # windows_connection_vars of the plugin configuration
                assert device["os_family"] == "windows" and isinstance(value, (str, int)), (name, var, value)
    wrapped_error = sorted((name, var, "arm", "last_error") for name, device in devices.items()
                           if device["site"] == site for var in ["ztp_cloud_breakers"])
    assert sorted(seen["wrapped"]) == sorted([("plant-a-c-sn0001", "ztp_labels", "header"),
                                              ("plant-a-c-sn0001", "ztp_labels", "note")] + wrapped_error)
    assert wrapped_error
    assert seen["plain"] > 80


def test_awx_job_never_templates_a_database_string(tmp_path, db_url, ansible_env):
    """AWX imports the JSON, stores it and gives it to a job through an inventory script: the plain values
    arrive as strings, the {{ }} and the #jinja2: header as text, and nothing runs."""
    load_fleet(db_url, ansible_env)
    marker = tmp_path / "pwned-by-header"
    header = "#jinja2:variable_start_string:'[[',variable_end_string:']]'\n[[ lookup('ansible.builtin.pipe', 'touch %s') ]]" % marker
    tamper_label(db_url, "SN-0001", "header", header)
    if os.path.exists("/tmp/edgefleet-pwned"):
        os.unlink("/tmp/edgefleet-pwned")
    inventory = awx_job_inventory(awx_import(inventory_config(tmp_path, db_url), ansible_env, tmp_path), tmp_path)
    play = tmp_path / "job.yml"
    play.write_text(
        "- hosts: plant-a-c-sn0001\n  gather_facts: false\n  connection: local\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: 'site={{ ztp_site }} ({{ ztp_site | type_debug }}) line={{ ztp_labels.line }}'\n"
        "    - ansible.builtin.debug:\n        msg: 'note={{ ztp_labels.note }}'\n"
        "    - ansible.builtin.debug:\n        msg: '{{ ztp_labels.header }}'\n")
    proc = run(["ansible-playbook", "-i", inventory, str(play)], ansible_env)
    assert "site=plant-a (str) line=1" in proc.stdout
    assert "note=" + NOTE in proc.stdout
    assert json.dumps(header) in proc.stdout
    assert not os.path.exists("/tmp/edgefleet-pwned") and not marker.exists()


def test_cache_is_used_until_flushed(tmp_path, db_url, ansible_env):
    load_fleet(db_url, ansible_env)
    config = inventory_config(tmp_path, db_url, "cache: true", "cache_plugin: ansible.builtin.jsonfile",
                              "cache_connection: %s" % (tmp_path / "cache"), "cache_timeout: 3600")
    first = inventory_list(config, ansible_env)
    assert "state_discovered" in first
    with ZtpStore(db_url) as store:
        store.save_devices([{"serial": "SN-0002", "state": "discovered"}], "test")
    cached = inventory_list(config, ansible_env, "--export")
    assert sorted(cached["state_discovered"]["hosts"]) == ["plant-a-c-sn0001"]
    # devices read back from the cache get the same trust: plain values plain, the {{ }} label not
    assert cached["_meta"]["hostvars"]["plant-a-c-sn0001"]["ztp_site"] == "plant-a"
    assert cached["_meta"]["hostvars"]["plant-a-c-sn0001"]["ztp_labels"]["note"] == {"__ansible_unsafe": NOTE}
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
