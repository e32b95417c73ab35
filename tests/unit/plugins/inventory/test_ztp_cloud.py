# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud breakers in the inventory: ztp_cloud_* host variables and the cloud_breaker_open group."""

from __future__ import annotations

from datetime import datetime, timezone

from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible_collections.edgefleet.platform.plugins.module_utils import cloud_breaker as cb
from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_breakers
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

T0 = datetime(2026, 12, 3, 9, 0, 0, tzinfo=timezone.utc)


def parse(tmp_path, db_url):
    config = tmp_path / "fleet.ztp.yml"
    config.write_text("plugin: edgefleet.platform.ztp\ndatabase: %s\n" % db_url)
    inventory = InventoryData()
    inventory_loader.get("edgefleet.platform.ztp").parse(inventory, DataLoader(), str(config), cache=False)
    return inventory


def test_breakers_become_hostvars_and_a_group(tmp_path, db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "t")
        ztp_breakers.report(store, cb.new_record("plant-a", "arm"), T0, "ARM unreachable", threshold=1, timeout=600)
        ztp_breakers.report(store, cb.new_record("plant-a", "flux"), T0, "timeout", threshold=3, timeout=600)
    inventory = parse(tmp_path, db_url)
    a = inventory.get_host("plant-a-c-sn0001").vars
    assert a["ztp_cloud_state"] == "open" and a["ztp_cloud_next_retry"] == "2026-12-03T09:10:00Z"
    assert a["ztp_cloud_breakers"]["arm"] == {"state": "open", "failures": 1, "opened_at": "2026-12-03T09:00:00Z",
                                              "next_retry": "2026-12-03T09:10:00Z", "last_error": "ARM unreachable"}
    assert a["ztp_cloud_breakers"]["flux"]["state"] == "closed" and a["ztp_cloud_breakers"]["flux"]["failures"] == 1
    b = [h for h in inventory.hosts.values() if h.vars["ztp_site"] == "plant-b"][0].vars
    assert (b["ztp_cloud_state"], b["ztp_cloud_breakers"], b["ztp_cloud_next_retry"]) == ("closed", {}, None)
    open_group = sorted(h.name for h in inventory.groups["cloud_breaker_open"].get_hosts())
    assert open_group == sorted(h.name for h in inventory.hosts.values() if h.vars["ztp_site"] == "plant-a")


def test_half_open_shows_as_such(tmp_path, db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "t")
        ztp_breakers.save_breaker(store, dict(cb.new_record("plant-b", "arm"), state=cb.HALF_OPEN, failures=3))
    inventory = parse(tmp_path, db_url)
    b = [h for h in inventory.hosts.values() if h.vars["ztp_site"] == "plant-b"][0].vars
    assert b["ztp_cloud_state"] == "half_open"
    assert "cloud_breaker_open" not in inventory.groups or not inventory.groups["cloud_breaker_open"].get_hosts()
