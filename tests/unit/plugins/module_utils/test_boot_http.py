# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot server's own inputs: the neighbour table, its config, the caller's address."""

from __future__ import annotations

import json

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import boot_http

ARP = """IP address       HW type     Flags       HW address            Mask     Device
10.20.0.31       0x1         0x2         52:54:00:AB:CD:01     *        eth0
10.20.0.32       0x1         0x0         00:00:00:00:00:00     *        eth0
"""


def test_neighbour_mac_reads_complete_entries_only(tmp_path):
    table = tmp_path / "arp"
    table.write_text(ARP)
    assert boot_http.neighbour_mac(str(table), "10.20.0.31") == "52:54:00:ab:cd:01"
    assert boot_http.neighbour_mac(str(table), "10.20.0.32") is None  # incomplete
    assert boot_http.neighbour_mac(str(table), "10.20.0.99") is None  # routed: not on the link
    assert boot_http.neighbour_mac(str(tmp_path / "missing"), "10.20.0.31") is None


TRUSTED = ("127.0.0.1", "::1")


def test_forwarded_address_is_trusted_from_the_configured_proxies_only():
    caller = boot_http.caller_address
    assert caller("127.0.0.1", {"x-forwarded-for": "10.20.0.31"}, TRUSTED) == "10.20.0.31"
    assert caller("127.0.0.1", {"x-forwarded-for": "1.2.3.4, 10.20.0.31"}, TRUSTED) == "10.20.0.31"  # what the proxy saw
    assert caller("::ffff:127.0.0.1", {"x-forwarded-for": "10.20.0.31"}, TRUSTED) == "10.20.0.31"  # dual-stack socket
    assert caller("::1", {"x-forwarded-for": "fd00::31"}, TRUSTED) == "fd00::31"
    # a device calling directly cannot name another address
    assert caller("10.20.0.40", {"x-forwarded-for": "10.20.0.31"}, TRUSTED) == "10.20.0.40"
    assert caller("::ffff:10.20.0.40", {}, TRUSTED) == "10.20.0.40"
    # another local address is not the proxy the role configures
    assert caller("127.0.0.2", {"x-forwarded-for": "10.20.0.31"}, TRUSTED) == "127.0.0.2"
    # the proxy names no valid address: no caller address to record
    assert caller("127.0.0.1", {}, TRUSTED) == "unknown (via proxy 127.0.0.1)"
    assert caller("127.0.0.1", {"x-forwarded-for": "10.20.0.31, evil"}, TRUSTED) == "unknown (via proxy 127.0.0.1)"
    # a remote proxy, when the site configures it
    assert caller("10.20.0.2", {"x-forwarded-for": "10.20.0.31"}, ("10.20.0.2",)) == "10.20.0.31"


def test_config_takes_the_database_from_the_environment_only(tmp_path, monkeypatch):
    path = tmp_path / "boot.json"
    path.write_text(json.dumps({"boot_url": "http://10.20.0.1:8080", "image_url": "http://10.20.0.1", "port": 8081,
                                "answers": {"boot_url": "http://10.20.0.1:8080", "image_url": "http://10.20.0.1",
                                            "ssh_keys": ["ssh-ed25519 AAAA x@y"]}}))
    monkeypatch.delenv("EDGEFLEET_ZTP_DB", raising=False)
    with pytest.raises(SystemExit, match="EDGEFLEET_ZTP_DB is not set"):
        boot_http.load_config(str(path))
    monkeypatch.setenv("EDGEFLEET_ZTP_DB", "sqlite:////var/lib/edgefleet-boot/ztp.db")
    config, host, port = boot_http.load_config(str(path))
    assert (config.database, host, port) == ("sqlite:////var/lib/edgefleet-boot/ztp.db", "0.0.0.0", 8081)
    assert config.answers.ssh_keys == ("ssh-ed25519 AAAA x@y",) and config.verify_neighbour is True
    assert config.trusted_proxies == ("127.0.0.1", "::1")
