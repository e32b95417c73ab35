# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ztp_boot (claims, netboot) and image_manifest, run in-process as ansible-core runs them."""

from __future__ import annotations

import hashlib

from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.plugins.modules import image_manifest, ztp_boot
from ansible_collections.edgefleet.platform.tests.unit.module_runner import run_module

UNKNOWN = "52:54:00:aa:bb:cc"


def fleet(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "test")
        BootStore(store).record_unknown(UNKNOWN, {"serial": "To Be Filled", "platform": "efi"})


def test_claim_is_idempotent_and_check_mode_writes_nothing(db_url, example):
    fleet(db_url, example)
    failed, result = run_module(ztp_boot.main, {"database": db_url})
    assert not failed and not result["changed"] and [m["mac"] for m in result["unassigned"]] == [UNKNOWN]
    failed, result = run_module(ztp_boot.main, {"database": db_url, "mac": UNKNOWN, "serial": "SN-0002"}, check_mode=True)
    assert result["changed"] and result["unassigned"] == []
    with ZtpStore(db_url) as store:
        assert BootStore(store).lookup(UNKNOWN).device is None
    failed, result = run_module(ztp_boot.main, {"database": db_url, "mac": UNKNOWN, "serial": "SN-0002", "actor": "ops"})
    assert result["changed"] and result["machine"]["device"] == "SN-0002"
    failed, result = run_module(ztp_boot.main, {"database": db_url, "mac": UNKNOWN, "serial": "SN-0002"})
    assert not failed and not result["changed"]
    with ZtpStore(db_url) as store:
        device = BootStore(store).lookup(UNKNOWN).device
        state = store.devices(serial=["SN-0002"])[0]["state"]
    assert device["serial"] == "SN-0002" and UNKNOWN in device["macs"]
    assert state == "registered"  # a claim adds the MAC; the device installs at its next boot
    failed, result = run_module(ztp_boot.main, {"database": db_url, "mac": UNKNOWN, "serial": "SN-0001"})
    assert failed and result["msg"] == "machine 52:54:00:aa:bb:cc: field 'mac': is already linked to device SN-0002"
    assert (result["record"], result["field"]) == ("machine 52:54:00:aa:bb:cc", "mac")


def test_netboot_switch(db_url, example):
    fleet(db_url, example)
    failed, result = run_module(ztp_boot.main, {"database": db_url, "serial": "SN-0001", "netboot": False})
    assert not failed and result["changed"] and result["netboot"] is False
    failed, result = run_module(ztp_boot.main, {"database": db_url, "serial": "SN-0001", "netboot": False})
    assert not result["changed"]
    failed, result = run_module(ztp_boot.main, {"database": db_url, "serial": "SN-9999", "netboot": True})
    assert failed and "SN-9999" in result["msg"]
    failed, result = run_module(ztp_boot.main, {"database": db_url, "mac": UNKNOWN})
    assert failed and "serial" in result["msg"]


def test_image_manifest(tmp_path):
    (tmp_path / "a.img").write_bytes(b"golden")
    (tmp_path / "b.img").write_bytes(b"other")
    want = hashlib.sha256(b"golden").hexdigest()
    args = {"path": str(tmp_path), "expected": {"a.img": want}}
    failed, result = run_module(image_manifest.main, args, check_mode=True)
    assert result["changed"] and not (tmp_path / "SHA256SUMS").exists()
    failed, result = run_module(image_manifest.main, args, diff=True)
    assert result["changed"] and result["checksums"]["a.img"] == want and "diff" in result
    assert (tmp_path / "SHA256SUMS").read_text() == "%s  a.img\n%s  b.img\n" % (want, hashlib.sha256(b"other").hexdigest())
    failed, result = run_module(image_manifest.main, args)
    assert not failed and not result["changed"]
    failed, result = run_module(image_manifest.main, {"path": str(tmp_path), "expected": {"a.img": "0" * 64}})
    assert failed and result["msg"].endswith("a.img has sha256 %s, expected %s" % (want, "0" * 64))
    failed, result = run_module(image_manifest.main, {"path": str(tmp_path), "files": ["missing.img"]})
    assert failed and "missing.img does not exist" in result["msg"]
