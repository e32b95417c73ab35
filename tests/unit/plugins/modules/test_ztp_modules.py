# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import csv
import json

import yaml

from ansible_collections.edgefleet.platform.plugins.modules import ztp_device, ztp_device_info, ztp_import
from ansible_collections.edgefleet.platform.tests.unit.module_runner import run_module


def test_import_from_yaml_is_idempotent_and_reports_changes(tmp_path, db_url, example):
    src = tmp_path / "fleet.yml"
    src.write_text(yaml.safe_dump(example))
    failed, result = run_module(ztp_import.main, {"database": db_url, "src": str(src)})
    assert not failed and result["changed"]
    assert result["created"]["devices"] == ["SN-0001", "SN-0002", "SN-0003"]
    failed, result = run_module(ztp_import.main, {"database": db_url, "src": str(src)})
    assert not failed and not result["changed"]
    assert result["unchanged"]["devices"] == 3


def test_import_check_mode_and_diff(tmp_path, example):
    path = tmp_path / "ztp.db"
    failed, result = run_module(ztp_import.main, {"database": "sqlite:///%s" % path, "data": example},
                                check_mode=True, diff=True)
    assert not failed and result["changed"]
    assert result["diff"]["after"]["devices"]["SN-0001"]["mac"] == "00:11:22:33:44:55"
    assert result["diff"]["before"]["devices"]["SN-0001"] is None
    assert not path.exists()


def test_import_csv_with_dotted_columns(tmp_path, db_url, example):
    devices = example.pop("devices")
    run_module(ztp_import.main, {"database": db_url, "data": example})
    src = tmp_path / "devices.csv"
    with open(src, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["serial", "mac", "site", "cluster", "role", "os_family", "ip", "hardware.cpu_cores",
                         "hardware.memory_mb", "hardware.disk_gb", "hardware.disk_type", "labels.line", "macs"])
        writer.writerow(["SN-0001", "00-11-22-33-44-55", "plant-a", "plant-a-line1", "control", "linux", "192.0.2.10",
                         "4", "8192", "128", "ssd", "1", "02:00:00:00:00:01 02:00:00:00:00:02"])
        writer.writerow(["SN-0002", "001122334456", "plant-a", "", "worker", "", "", "", "", "", "", "", ""])
    failed, result = run_module(ztp_import.main, {"database": db_url, "src": str(src)})
    assert not failed, result
    failed, info = run_module(ztp_device_info.main, {"database": db_url, "serial": ["SN-0001", "SN-0002"]})
    first, second = info["devices"]
    assert first["hardware"] == {"cpu_cores": 4, "memory_mb": 8192, "disk_gb": 128, "disk_type": "ssd"}
    assert first["labels"] == {"line": "1"} and first["macs"] == ["02:00:00:00:00:01", "02:00:00:00:00:02"]
    assert second["mac"] == "00:11:22:33:44:56" and second["cluster"] is None and second["os_family"] == "linux"
    assert devices  # the YAML example and the CSV describe the same devices


def test_import_csv_unknown_column(tmp_path, db_url):
    src = tmp_path / "bad.csv"
    src.write_text("serial,mac,colour\nSN-1,00:11:22:33:44:55,red\n")
    failed, result = run_module(ztp_import.main, {"database": db_url, "src": str(src)})
    assert failed and "field 'colour': unknown CSV column" in result["msg"]


def test_import_error_names_record_and_field(db_url, example):
    example["devices"][2]["mac"] = "zz:11:22:33:44:55"
    failed, result = run_module(ztp_import.main, {"database": db_url, "data": example})
    assert failed
    assert result["msg"].startswith("device SN-0003: field 'mac': 'zz:11:22:33:44:55' is not a MAC address")
    assert (result["record"], result["field"]) == ("device SN-0003", "mac")
    failed, info = run_module(ztp_device_info.main, {"database": db_url})
    assert info["count"] == 0


def test_database_from_environment(monkeypatch, db_url, example):
    monkeypatch.setenv("EDGEFLEET_ZTP_DB", db_url)
    failed, result = run_module(ztp_import.main, {"data": example})
    assert not failed and result["database"] == db_url


def test_password_never_in_output(example):
    url = "postgresql://ztp:Hunter2Secret@127.0.0.1:1/ztp"
    failed, result = run_module(ztp_import.main, {"database": url, "data": example})
    assert failed
    assert "Hunter2Secret" not in json.dumps(result)
    assert "ztp:********@127.0.0.1:1/ztp" in result["msg"]


def test_device_lifecycle_through_module(db_url, example):
    run_module(ztp_import.main, {"database": db_url, "data": example})
    args = {"database": db_url, "serial": "SN-0001", "state": "discovered", "reason": "discover stage",
            "hardware": {"cpu_cores": 8, "memory_mb": 16000}, "facts": {"nics": [{"name": "eth0"}]}}
    failed, result = run_module(ztp_device.main, args, diff=True)
    assert not failed and result["changed"] and result["updated"] == ["SN-0001"]
    assert result["device"]["state"] == "discovered"
    assert result["device"]["hardware"] == {"cpu_cores": 8, "memory_mb": 16000, "disk_gb": 128, "disk_type": "ssd"}
    assert result["diff"]["before"]["SN-0001"]["state"] == "registered"
    failed, result = run_module(ztp_device.main, args)
    assert not failed and not result["changed"]
    failed, result = run_module(ztp_device.main, {"database": db_url, "serial": "SN-0001", "state": "operational"})
    assert failed and result["msg"] == (
        "device SN-0001: field 'state': cannot move from discovered to operational "
        "(allowed from discovered: registered, os_installed, failed, decommissioned)")


def test_device_check_mode_changes_nothing(db_url, example):
    run_module(ztp_import.main, {"database": db_url, "data": example})
    failed, result = run_module(ztp_device.main, {"database": db_url, "serial": "SN-0001", "state": "discovered"}, check_mode=True)
    assert not failed and result["changed"] and result["device"]["state"] == "discovered"
    failed, info = run_module(ztp_device_info.main, {"database": db_url, "serial": ["SN-0001"]})
    assert info["devices"][0]["state"] == "registered"


def test_device_batch_is_one_transaction(db_url, example):
    run_module(ztp_import.main, {"database": db_url, "data": example})
    batch = [{"serial": "SN-0001", "state": "discovered"}, {"serial": "SN-0002", "state": "discovered"},
             {"serial": "SN-0003", "state": "configured"}]
    failed, result = run_module(ztp_device.main, {"database": db_url, "devices": batch})
    assert failed and "device SN-0003: field 'state': cannot move from registered to configured" in result["msg"]
    failed, info = run_module(ztp_device_info.main, {"database": db_url, "state": ["discovered"]})
    assert info["count"] == 0
    batch[2]["state"] = "discovered"
    failed, result = run_module(ztp_device.main, {"database": db_url, "devices": batch})
    assert not failed and sorted(result["updated"]) == ["SN-0001", "SN-0002", "SN-0003"]


def test_device_create_requires_site_mac_role(db_url, example):
    run_module(ztp_import.main, {"database": db_url, "data": example})
    failed, result = run_module(ztp_device.main, {"database": db_url, "serial": "NEW-1", "site": "plant-a", "role": "worker"})
    assert failed and result["msg"] == "device NEW-1: field 'mac': is required for a new device"
    failed, result = run_module(ztp_device.main, {"database": db_url, "serial": "NEW-1", "site": "plant-a", "role": "worker",
                                                  "mac": "02:aa:00:00:00:01", "os_family": "windows"})
    assert not failed and result["created"] == ["NEW-1"]
    assert result["device"]["hostname"] == "plant-a-w-new1"


def test_info_filters_and_events(db_url, example):
    run_module(ztp_import.main, {"database": db_url, "data": example})
    run_module(ztp_device.main, {"database": db_url, "serial": "SN-0003", "state": "decommissioned", "reason": "RMA"})
    failed, info = run_module(ztp_device_info.main, {"database": db_url, "site": ["plant-a"]})
    assert [d["serial"] for d in info["devices"]] == ["SN-0001", "SN-0002"]
    failed, info = run_module(ztp_device_info.main, {"database": db_url, "include_decommissioned": False})
    assert info["count"] == 2
    failed, info = run_module(ztp_device_info.main, {"database": db_url, "state": ["decommissioned"], "events": True})
    assert info["devices"][0]["events"][-1]["reason"] == "RMA"
    failed, info = run_module(ztp_device_info.main, {"database": db_url, "region": ["emea"], "cluster": ["plant-a-line1"]})
    assert info["count"] == 2
