# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage stage in the data model: it needs platform_ready, records its
outcome in the device's facts without a lifecycle state of its own, and keeps
the facts other stages stored."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_model as m
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore


def test_storage_comes_after_platform_and_keeps_the_state():
    names = [s.name for s in m.STAGE_FLOW]
    assert names.index("storage") == names.index("platform") + 1
    assert m.STAGE_BY_NAME["storage"] == m.Stage("storage", "platform_ready", "platform_ready")


def test_storage_outcomes():
    ok = m.plan_stage("storage", "d", "platform_ready", None)
    assert ok == m.StagePlan("advanced", (), True, "platform_ready")
    failed = m.plan_stage("storage", "d", "platform_ready", None, "Longhorn: iscsid is not running")
    assert failed.action == "failed" and failed.moves == (("failed", "storage", "Longhorn: iscsid is not running"),)
    retried = m.plan_stage("storage", "d", "failed", "storage")
    assert retried.action == "retried" and retried.moves == (("platform_ready", None, "storage stage"),)
    m.check_transition("d", "failed", "platform_ready", "storage")
    assert m.plan_stage("storage", "d", "configured", None).action == "behind"
    assert m.plan_stage("storage", "d", "failed", "platform").action == "behind"
    assert m.plan_stage("storage", "d", "workloads_deployed", None).action == "kept"
    # a device that failed storage is behind the cloud stage
    assert m.plan_stage("cloud", "d", "failed", "storage").action == "behind"


def test_stage_facts_are_merged_by_key(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        store.record_stage("discover", [{"serial": "SN-0001", "facts": {"nics": [{"name": "eth0"}]}}], "t")
        for stage in ("os_install", "configure", "platform"):
            store.record_stage(stage, [{"serial": "SN-0001"}], "t")
        storage = {"engine": "longhorn", "copies": 3}
        first = store.record_stage("storage", [{"serial": "SN-0001", "facts": {"storage": storage}}], "t")
        assert first["devices"][0]["action"] == "advanced" and first["changed"]
        again = store.record_stage("storage", [{"serial": "SN-0001", "facts": {"storage": storage}}], "t")
        assert not again["changed"]
        device = [d for d in store.devices() if d["serial"] == "SN-0001"][0]
    assert device["state"] == "platform_ready"
    assert device["facts"] == {"nics": [{"name": "eth0"}], "storage": storage}


def test_the_record_carries_the_dedicated_disks(db_url, example):
    example["devices"][0]["storage"] = {"disks": ["nvme-IPC_SSD_1", {"id": "/dev/disk/by-id/ata-X", "wipe_allowed": True}]}
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        device = [d for d in store.devices() if d["serial"] == "SN-0001"][0]
        assert device["storage"] == {"disks": [{"id": "/dev/disk/by-id/nvme-IPC_SSD_1", "wipe_allowed": False},
                                               {"id": "/dev/disk/by-id/ata-X", "wipe_allowed": True}]}
        assert [d for d in store.devices() if d["serial"] == "SN-0002"][0]["storage"] == {}
        again = store.import_data(example, "tester")
        assert again["unchanged"]["devices"] == 3


@pytest.mark.parametrize("storage, field, text", [
    ({"disks": ["/dev/sdb"]}, "storage.disks[0].id", "is not a /dev/disk/by-id/ name"),
    ({"disks": [{"id": "nvme-A", "wipe_allowed": "yes"}]}, "storage.disks[0].wipe_allowed", "must be true or false"),
    ({"disks": [{"id": "nvme-A", "wipe": True}]}, "storage.disks[0].wipe", "unknown key"),
    ({"disks": ["nvme-A", "/dev/disk/by-id/nvme-A"]}, "storage.disks[1].id", "is listed twice"),
    ({"disk": []}, "storage.disk", "unknown field"),
    (["nvme-A"], "storage", "a mapping is required"),
])
def test_bad_disk_records_are_refused_naming_record_and_field(db_url, example, storage, field, text):
    example["devices"][0]["storage"] = storage
    with ZtpStore(db_url) as store:
        with pytest.raises(m.ZtpError) as err:
            store.import_data(example, "tester")
        assert (err.value.record, err.value.field) == ("device SN-0001", field)
        assert text in str(err.value)
        assert store.devices() == []
