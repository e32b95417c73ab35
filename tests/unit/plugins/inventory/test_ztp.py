# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import sqlite3

import pytest

from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.template import Templar, is_trusted_as_template, trust_as_template
from ansible_collections.edgefleet.platform.plugins.inventory import ztp as ztp_inventory
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

TEMPLATE = "{{ lookup('ansible.builtin.pipe', 'echo pwned') }}"
# Only a database edited behind the model can hold it (labels refuse newlines): no brace, other delimiters.
HEADER = "#jinja2:variable_start_string:'[[',variable_end_string:']]'\n[[ lookup('ansible.builtin.pipe', 'echo pwned') ]]"


@pytest.fixture
def plugin_loader():
    # the real loader (conftest installed the collection finder): options and doc fragments as in ansible-inventory
    return inventory_loader


def parse(plugin_loader, tmp_path, db_url, **options):
    config = tmp_path / "fleet.ztp.yml"
    lines = ["plugin: edgefleet.platform.ztp", "database: %s" % db_url]
    lines += ["%s: %s" % (k, v) for k, v in options.items()]
    config.write_text("\n".join(lines) + "\n")
    plugin = plugin_loader.get("edgefleet.platform.ztp")
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(config), cache=False)
    return inventory


@pytest.fixture
def fleet(db_url, example):
    example["devices"][0]["labels"]["note"] = TEMPLATE
    with ZtpStore(db_url) as store:
        store.import_data(example, "t")
        store.save_devices([{"serial": "SN-0002", "state": "discovered"}], "t")
    return db_url


def test_verify_file(tmp_path):
    plugin = ztp_inventory.InventoryModule()
    for name, ok in (("site.ztp.yml", True), ("site.ztp.yaml", True), ("ztp.yml", True), ("hosts.yml", False), ("x.ztp.json", False)):
        path = tmp_path / name
        path.write_text("plugin: edgefleet.platform.ztp\n")
        assert plugin.verify_file(str(path)) is ok, name
    assert not plugin.verify_file(str(tmp_path / "missing.ztp.yml"))


def test_groups_and_hostvars(plugin_loader, tmp_path, fleet):
    inventory = parse(plugin_loader, tmp_path, fleet)
    groups = dict((name, sorted(h.name for h in g.get_hosts())) for name, g in inventory.groups.items())
    assert groups["site_plant_a"] == ["plant-a-c-sn0001", "plant-a-w-sn0002"]
    assert groups["site_plant_b"] == ["plantb-c-sn0003"]
    assert groups["region_emea"] == ["plant-a-c-sn0001", "plant-a-w-sn0002", "plantb-c-sn0003"]
    assert groups["cluster_plant_a_line1"] == ["plant-a-c-sn0001", "plant-a-w-sn0002"]
    assert groups["topology_multi_node"] == ["plant-a-c-sn0001", "plant-a-w-sn0002"]
    assert groups["topology_single_node"] == ["plantb-c-sn0003"]
    assert groups["role_control"] == ["plant-a-c-sn0001", "plantb-c-sn0003"]
    assert groups["role_worker"] == ["plant-a-w-sn0002"]
    assert groups["edge"] == ["plant-a-c-sn0001", "plant-a-w-sn0002", "plantb-c-sn0003"]
    assert groups["platform_k3s"] == ["plant-a-c-sn0001", "plant-a-w-sn0002"]
    assert groups["os_linux"] == ["plant-a-c-sn0001", "plant-a-w-sn0002"]
    assert groups["os_windows"] == ["plantb-c-sn0003"]
    assert groups["state_registered"] == ["plant-a-c-sn0001", "plantb-c-sn0003"]
    assert groups["state_discovered"] == ["plant-a-w-sn0002"]
    host = inventory.get_host("plant-a-c-sn0001").vars
    assert host["ansible_host"] == "192.0.2.10"
    assert (host["ztp_serial"], host["ztp_mac"], host["ztp_site"], host["ztp_region"]) == ("SN-0001", "00:11:22:33:44:55", "plant-a", "emea")
    assert (host["ztp_cpu_cores"], host["ztp_memory_mb"], host["ztp_disk_gb"], host["ztp_disk_type"]) == (4, 8192, 128, "ssd")
    assert host["ztp_cluster_workloads"] == [{"name": "opcua-gateway", "type": "medium"}, {"name": "historian", "type": "database"}]
    assert host["ztp_labels"]["line"] == "1"
    windows = inventory.get_host("plantb-c-sn0003").vars
    assert windows["ansible_connection"] == "winrm" and windows["ansible_port"] == 5986
    assert "ansible_connection" not in host


def test_database_strings_are_never_templated(plugin_loader, tmp_path, fleet):
    with sqlite3.connect(fleet[len("sqlite:///"):]) as conn:  # a label written behind the model's back
        labels = json.loads(conn.execute("SELECT labels FROM devices WHERE serial = 'SN-0001'").fetchone()[0])
        conn.execute("UPDATE devices SET labels = ? WHERE serial = 'SN-0001'", (json.dumps(dict(labels, header=HEADER)),))
    inventory = parse(plugin_loader, tmp_path, fleet)
    host = inventory.get_host("plant-a-c-sn0001")
    templar = Templar(loader=DataLoader(), variables=host.vars)
    # The label arrives as data: templating the variable returns the text, the lookup never runs.
    assert templar.template(trust_as_template("{{ ztp_labels.note }}")) == TEMPLATE
    assert templar.template(host.vars["ztp_labels"]["note"]) == TEMPLATE
    assert templar.template(trust_as_template("{{ ztp_labels.header }}")) == HEADER
    assert templar.template(host.vars["ztp_labels"]["header"]) == HEADER


def test_plain_strings_are_trusted_so_they_export_plain(plugin_loader, tmp_path, fleet):
    """ansible-inventory prints an untrusted host var as {"__ansible_unsafe": ...}: only values that
    could hold a template stay untrusted."""
    hostvars = parse(plugin_loader, tmp_path, fleet).get_host("plant-a-c-sn0001").vars
    plain = [hostvars[k] for k in ("ztp_serial", "ztp_mac", "ztp_site", "ztp_state", "ztp_created_at", "ansible_host")]
    plain += [hostvars["ztp_labels"]["line"], hostvars["ztp_cluster_workloads"][0]["name"]]
    assert all(is_trusted_as_template(value) for value in plain), plain
    assert not is_trusted_as_template(hostvars["ztp_labels"]["note"])
    windows = parse(plugin_loader, tmp_path, fleet).get_host("plantb-c-sn0003").vars
    assert is_trusted_as_template(windows["ansible_connection"])


def test_filters_and_decommissioned(plugin_loader, tmp_path, fleet):
    with ZtpStore(fleet) as store:
        store.save_devices([{"serial": "SN-0003", "state": "decommissioned"}], "t")
    names = sorted(parse(plugin_loader, tmp_path, fleet).hosts)
    assert names == ["plant-a-c-sn0001", "plant-a-w-sn0002"]
    names = sorted(parse(plugin_loader, tmp_path, fleet, include_decommissioned="true").hosts)
    assert names == ["plant-a-c-sn0001", "plant-a-w-sn0002", "plantb-c-sn0003"]
    assert sorted(parse(plugin_loader, tmp_path, fleet, sites="[plant-a]", states="[discovered]").hosts) == ["plant-a-w-sn0002"]
    assert sorted(parse(plugin_loader, tmp_path, fleet, regions="[apac]").hosts) == []


def test_constructed_features(plugin_loader, tmp_path, fleet):
    inventory = parse(plugin_loader, tmp_path, fleet,
                      compose="{cores_x2: 'ztp_cpu_cores * 2'}",
                      groups="{big: 'ztp_cpu_cores is not none and ztp_cpu_cores >= 4'}",
                      keyed_groups="[{key: ztp_labels.line, prefix: line, default_value: none}]")
    assert inventory.get_host("plant-a-c-sn0001").vars["cores_x2"] == 8
    assert [h.name for h in inventory.groups["big"].get_hosts()] == ["plant-a-c-sn0001"]
    assert [h.name for h in inventory.groups["line_1"].get_hosts()] == ["plant-a-c-sn0001"]


def test_missing_database_is_a_clear_error(plugin_loader, tmp_path):
    from ansible.errors import AnsibleParserError
    with pytest.raises(AnsibleParserError, match="does not exist"):
        parse(plugin_loader, tmp_path, "sqlite:///%s" % (tmp_path / "none.db"))


def test_one_parse_is_a_constant_number_of_queries(plugin_loader, tmp_path, db_url, monkeypatch, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "t")
        store.import_data({"devices": [{"serial": "X%03d" % i, "mac": "02:00:00:00:01:%02x" % i, "site": "plant-a",
                                        "role": "worker"} for i in range(150)]}, "t")
    seen = []
    real_close = ZtpStore.close

    def counting_close(self):
        seen.append(self.engine.statements)
        real_close(self)

    monkeypatch.setattr(ZtpStore, "close", counting_close)
    inventory = parse(plugin_loader, tmp_path, db_url)
    assert len(inventory.hosts) == 153
    # schema check (2) + devices (1) + MACs (1) + cloud breakers (1), whatever the fleet size
    assert seen == [5]


def test_database_path_relative_to_the_inventory_file(plugin_loader, tmp_path, fleet):
    (tmp_path / "inv").mkdir()
    config = tmp_path / "inv" / "lab.ztp.yml"
    config.write_text('plugin: edgefleet.platform.ztp\ndatabase: "sqlite:///{{ inventory_dir }}/../ztp.db"\n')
    inventory = InventoryData()
    plugin_loader.get("edgefleet.platform.ztp").parse(inventory, DataLoader(), str(config), cache=False)
    assert "plant-a-c-sn0001" in inventory.hosts
