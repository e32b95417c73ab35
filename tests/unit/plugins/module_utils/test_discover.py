# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""discover.observe on real fact dumps (fixtures/discover, see fixtures/README.md) and on
variants of them: what the discover role records about an IPC."""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import discover, ztp_model

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "discover")
VDA = {"name": "vda", "size_gb": 256.0, "type": "hdd"}  # 536870912 sectors of 512 bytes, rotational


def facts(name: str) -> dict:
    with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)["ansible_facts"]


def machine_id(name: str) -> str:
    return facts(name)["machine_id"]


EXPECTED = {
    "dev-vm": {
        "serial_source": "machine-id",
        "nics": [{"name": "eth0", "mac": "02:fc:00:00:00:01"}, {"name": "ifb0", "mac": "3e:d8:51:12:c1:a5"},
                 {"name": "ifb1", "mac": "7e:f7:13:ef:ff:a9"}],
        "disks": [VDA],
        "hardware": {"cpu_cores": 2, "memory_mb": 24105, "disk_gb": 256.0, "disk_type": "hdd"},
        "dmi": {"vendor": "NA", "product": "NA"},
    },
    "debian12-container": {
        "serial_source": "machine-id",
        "nics": [{"name": "eth0", "mac": "5e:4d:45:7a:4f:b3"}],
        "disks": [VDA],
        "hardware": {"cpu_cores": 2, "memory_mb": 24105, "disk_gb": 256.0, "disk_type": "hdd"},
        "dmi": {"vendor": "NA", "product": "NA"},
    },
    "vlan-bridge-names": {
        "serial_source": "machine-id",
        "nics": [{"name": "bond-x", "mac": "ae:86:ac:57:3d:4b"}, {"name": "br-lan", "mac": "5e:62:42:63:8b:08"},
                 {"name": "enp2s0.100", "mac": "5e:62:42:63:8b:08"}, {"name": "lan-b.20", "mac": "26:2f:14:cb:15:66"},
                 {"name": "wlp3s0", "mac": "4e:cf:e6:d7:e1:14"}],
        "disks": [VDA],
        "hardware": {"cpu_cores": 2, "memory_mb": 24105, "disk_gb": 256.0, "disk_type": "hdd"},
        "dmi": {"vendor": "NA", "product": "NA"},
    },
    "nvme-ipc": {
        "serial": "IPC7420-2315A0042",
        "serial_source": "dmi",
        # enp3s0 reports 00:00:00:00:00:00, wg0 no MAC; upper-case MACs are lowered
        "nics": [{"name": "enp1s0", "mac": "00:07:32:ab:cd:01"}, {"name": "enp2s0", "mac": "00:07:32:ab:cd:02"}],
        # 1000215216 and 250069680 sectors of 512 bytes
        "disks": [{"name": "nvme0n1", "size_gb": 476.9, "type": "nvme"}, {"name": "sda", "size_gb": 119.2, "type": "ssd"}],
        "hardware": {"cpu_cores": 4, "memory_mb": 7824, "disk_gb": 476.9, "disk_type": "nvme"},
        "dmi": {"vendor": "Acme Industrial", "product": "IPC-7420"},
    },
    "placeholder-serial": {
        "serial_source": "machine-id",
        "nics": [{"name": "eth0", "mac": "5e:4d:45:7a:4f:b3"}],
        "disks": [{"name": "sda", "size_gb": 111.8, "type": "ssd"}],
        "hardware": {"cpu_cores": 2, "memory_mb": 24105, "disk_gb": 111.8, "disk_type": "ssd"},
        "dmi": {"vendor": "To Be Filled By O.E.M.", "product": "To Be Filled By O.E.M."},
    },
    "usb-stick": {
        "serial_source": "machine-id",
        "nics": [{"name": "eth0", "mac": "5e:4d:45:7a:4f:b3"}],
        # the 128 GB stick (removable), the empty card reader and the DVD drive are no system disks
        "disks": [{"name": "sda", "size_gb": 59.6, "type": "ssd"}],
        "hardware": {"cpu_cores": 2, "memory_mb": 24105, "disk_gb": 59.6, "disk_type": "ssd"},
        "dmi": {"vendor": "NA", "product": "NA"},
    },
    "no-disks": {
        "serial_source": "machine-id",
        "nics": [{"name": "eth0", "mac": "5e:4d:45:7a:4f:b3"}],
        "disks": [],
        "hardware": {"cpu_cores": 2, "memory_mb": 24105},
        "dmi": {"vendor": "NA", "product": "NA"},
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_observe_fixture(name):
    expected = dict(EXPECTED[name])
    expected.setdefault("serial", machine_id(name))
    expected["macs"] = [nic["mac"] for nic in expected["nics"]]
    expected["facts"] = dict((k, expected[k]) for k in ("nics", "disks", "serial_source", "dmi"))
    assert discover.observe(facts(name)) == expected


def test_every_fixture_is_tested():
    assert sorted(f[:-len(".json")] for f in os.listdir(FIXTURES) if f.endswith(".json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_ztp_model_accepts_what_is_observed(name):
    observed = discover.observe(facts(name))
    assert set(observed["hardware"]) <= set(ztp_model.HARDWARE_FIELDS)
    assert ztp_model.check_hardware(name, observed["hardware"])["memory_mb"] == observed["hardware"]["memory_mb"]
    assert all(disk["type"] in ztp_model.DISK_TYPES for disk in observed["disks"])
    assert observed["macs"] == [ztp_model.normalize_mac(name, "mac", mac) for mac in observed["macs"]]


def test_the_facts_are_not_changed():
    given = facts("nvme-ipc")
    kept = copy.deepcopy(given)
    discover.observe(given)
    assert given == kept


# --- serial -----------------------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", discover.SERIAL_PLACEHOLDERS + (
    "Default string", "  To Be Filled By O.E.M.  ", "System Serial Number", "Not Specified", "NA"))
def test_a_placeholder_serial_gives_the_machine_id(placeholder):
    host = dict(facts("nvme-ipc"), product_serial=placeholder)
    assert discover.serial(host) == (host["machine_id"], "machine-id")


def test_the_placeholders_come_from_the_caller_and_match_in_any_case():
    host = dict(facts("nvme-ipc"), product_serial="0000000000")
    assert discover.serial(host) == ("0000000000", "dmi")
    assert discover.serial(host, ["0000000000"]) == (host["machine_id"], "machine-id")
    assert discover.serial(dict(host, product_serial="Chassis Serial"), ["CHASSIS SERIAL "])[1] == "machine-id"
    assert discover.observe(host, [])["serial"] == "0000000000"


def test_the_dmi_serial_is_trimmed_and_kept_as_reported():
    host = dict(facts("nvme-ipc"), product_serial="  SN-AbC 42\n")
    assert discover.serial(host) == ("SN-AbC 42", "dmi")


def test_without_dmi_or_machine_id():
    host = facts("debian12-container")
    del host["product_serial"], host["machine_id"]
    assert discover.serial(host) == ("", "machine-id")
    # A number in the DMI fact is a serial like any other.
    assert discover.serial(dict(host, product_serial=12345)) == ("12345", "dmi")


# --- NICs -------------------------------------------------------------------------------------


def test_interface_facts_keyed_the_older_way_are_found():
    # Facts keyed with every "." turned into "_" too (what discover used to look up) are found.
    host = facts("vlan-bridge-names")
    host["enp2s0_100"] = host.pop("enp2s0.100")
    host["lan_b_20"] = host.pop("lan_b.20")
    assert discover.nics(host) == EXPECTED["vlan-bridge-names"]["nics"]


def test_an_interface_without_its_fact_is_left_out():
    host = facts("vlan-bridge-names")
    del host["br_lan"]
    assert "br-lan" not in [nic["name"] for nic in discover.nics(host)]


def test_no_interfaces():
    host = facts("dev-vm")
    del host["interfaces"]
    assert discover.nics(host) == []
    assert discover.observe(host)["macs"] == []


# --- disks ------------------------------------------------------------------------------------


def device(**fields):
    return dict({"removable": "0", "rotational": "0", "sectors": 0, "sectorsize": "512"}, **fields)


@pytest.mark.parametrize("name", ["loop0", "ram0", "sr0", "zram0", "dm-0", "md127", "md0"])
def test_devices_that_cannot_hold_the_system(name):
    assert discover.disks({"devices": {name: device(sectors=500118192)}}) == []


@pytest.mark.parametrize("fields, expected", [
    ({"sectors": 500118192}, 238.5),                           # 256 GB SATA SSD
    ({"sectors": "500118192"}, 238.5),                         # sysfs numbers as text (older ansible-core)
    ({"sectors": 62514774, "sectorsize": "4096"}, 238.5),      # 4Kn sectors
    ({"sectors": 62514774, "sectorsize": 4096}, 238.5),
    ({"sectors": 2097152}, 1.0),
    ({"sectors": 104857}, 0.0),                                # 51 MiB rounds to 0.0 GiB and is still a disk
])
def test_sizes_in_gib_to_a_tenth(fields, expected):
    assert discover.disks({"devices": {"sda": device(**fields)}})[0]["size_gb"] == expected


def test_sector_size_defaults_to_512():
    dev = device(sectors=500118192)
    del dev["sectorsize"]
    assert discover.disks({"devices": {"sda": dev}})[0]["size_gb"] == 238.5


@pytest.mark.parametrize("fields", [{"sectors": 0}, {"sectors": "0"}, {"sectors": "unknown"}, {"sectors": None},
                                    {"removable": "1", "sectors": 500118192}, {"removable": 1, "sectors": 500118192}])
def test_empty_and_removable_devices_are_left_out(fields):
    assert discover.disks({"devices": {"sdb": device(**fields)}}) == []


@pytest.mark.parametrize("name, rotational, expected", [
    ("nvme0n1", "0", "nvme"), ("nvme1n1", "1", "nvme"), ("sda", "0", "ssd"), ("sda", 0, "ssd"), ("sda", "1", "hdd"),
    ("sda", 1, "hdd"), ("mmcblk0", "0", "ssd"), ("vda", "1", "hdd"), ("sda", None, "ssd"),
])
def test_disk_type(name, rotational, expected):
    assert discover.disk_type(name, {"rotational": rotational}) == expected


def test_a_disk_that_does_not_say_is_a_hard_disk():
    assert discover.disk_type("sda", {}) == "hdd"


def test_the_system_disk_is_the_largest_and_the_first_by_name_among_equals():
    devices = {"sdb": device(sectors=1000), "sdc": device(sectors=500118192), "nvme0n1": device(sectors=500118192),
               "sda": device(sectors=2097152)}
    found = discover.disks({"devices": devices})
    assert [d["name"] for d in found] == ["nvme0n1", "sda", "sdb", "sdc"]
    assert discover.system_disk(found) == {"name": "nvme0n1", "size_gb": 238.5, "type": "nvme"}
    assert discover.system_disk([]) == {}


def test_no_devices_fact():
    host = facts("dev-vm")
    del host["devices"]
    observed = discover.observe(host)
    assert observed["disks"] == [] and observed["hardware"] == {"cpu_cores": 2, "memory_mb": 24105}


# --- hardware and DMI -------------------------------------------------------------------------


def test_cpu_cores_fall_back_to_the_processor_count():
    host = facts("nvme-ipc")
    del host["processor_vcpus"]
    assert discover.observe(host)["hardware"]["cpu_cores"] == 1


@pytest.mark.parametrize("missing, named", [
    (("processor_vcpus", "processor_count"), "'processor_vcpus' or 'processor_count'"),
    (("memtotal_mb",), "'memtotal_mb'"),
])
def test_missing_hardware_facts_are_named(missing, named):
    host = facts("nvme-ipc")
    for name in missing:
        del host[name]
    with pytest.raises(discover.DiscoverError) as info:
        discover.observe(host)
    assert "the facts have no %s: gather at least the 'hardware' subset" % named in str(info.value)


def test_missing_dmi_facts():
    host = facts("nvme-ipc")
    del host["system_vendor"], host["product_name"]
    assert discover.observe(host)["dmi"] == {"vendor": "NA", "product": "NA"}


@pytest.mark.parametrize("given, fragment", [
    (None, "ansible_facts must be a mapping, got NoneType"),
    ([], "ansible_facts must be a mapping, got list"),
])
def test_facts_must_be_a_mapping(given, fragment):
    with pytest.raises(discover.DiscoverError, match=fragment):
        discover.observe(given)


@pytest.mark.parametrize("placeholders", ["to be filled by o.e.m.", None, 3])
def test_placeholders_must_be_a_list(placeholders):
    with pytest.raises(discover.DiscoverError, match="the serial placeholders must be a list of strings"):
        discover.observe(facts("nvme-ipc"), placeholders)


def test_the_vocabulary_comes_from_the_ztp_model():
    assert {discover.NVME, discover.SSD, discover.HDD} == set(ztp_model.DISK_TYPES)
    assert (discover.CPU_CORES, discover.MEMORY_MB, discover.DISK_GB, discover.DISK_TYPE) == ztp_model.HARDWARE_FIELDS
    with pytest.raises(ImportError, match="discover: flash not in the ZTP model's ssd, nvme, hdd"):
        discover._known(ztp_model.DISK_TYPES, "ssd", "flash")


def test_the_role_defaults_are_the_filter_defaults():
    repo = os.environ.get("EDGEFLEET_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
    role = os.path.join(repo, "roles", "discover")
    with open(os.path.join(role, "defaults", "main.yml"), encoding="utf-8") as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    assert tuple(defaults["discover_serial_placeholders"]) == discover.SERIAL_PLACEHOLDERS
    for entry in ("main", "observe"):
        assert tuple(specs[entry]["options"]["discover_serial_placeholders"]["default"]) == discover.SERIAL_PLACEHOLDERS


def test_the_record_facts_are_what_the_ztp_record_keeps():
    seen = discover.observe(facts("debian12-container"))
    assert seen["facts"] == {"nics": seen["nics"], "disks": seen["disks"], "serial_source": seen["serial_source"],
                             "dmi": seen["dmi"]}


def test_identity_of_the_ipc_of_its_record():
    seen = discover.observe(facts("debian12-container"))
    assert discover.identity_problem(seen, seen["serial"], seen["macs"][0], "ipc-1", "10.0.0.5") == ""


def test_a_swapped_ipc_names_both_serials():
    seen = discover.observe(facts("debian12-container"))
    problem = discover.identity_problem(seen, "SN-OTHER", seen["macs"][0], "ipc-1", "10.0.0.5")
    assert problem.startswith("device SN-OTHER (host ipc-1 at 10.0.0.5): the host reports serial %s (from machine-id)"
                              " but its ZTP record says SN-OTHER;" % seen["serial"])


def test_a_boot_mac_on_none_of_the_nics_lists_them():
    seen = discover.observe(facts("dev-vm"))
    problem = discover.identity_problem(seen, seen["serial"], "02:00:00:00:00:99", "ipc-1", "10.0.0.5")
    assert "boot MAC 02:00:00:00:00:99 is on none of its NICs (eth0 02:fc:00:00:00:01, ifb0 3e:d8:51:12:c1:a5" in problem


def test_a_host_without_a_serial_says_none():
    seen = dict(discover.observe(facts("dev-vm")), serial="")
    assert "the host reports serial (none)" in discover.identity_problem(seen, "SN-1", "x", "h", "a")
