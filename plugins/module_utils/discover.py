# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an IPC reports about itself, read from its gathered ``ansible_facts``.

Pure Python, no I/O: one function of the facts (``observe``) gives the serial and
where it came from, the NICs with their MACs, the disks that can hold the system,
and the hardware record the ZTP database stores. The discover role calls it
through the ``edgefleet.platform.discover_observe`` filter.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import DISK_TYPES, HARDWARE_FIELDS


class DiscoverError(ValueError):
    """The facts lack something every gathered host reports; the message names the fact."""


def _known(vocabulary: t.Sequence[str], *names: str) -> tuple[str, ...]:
    """The names, each checked against the ZTP model's vocabulary: a rename there
    stops the import here instead of writing a value the database refuses."""
    missing = [name for name in names if name not in vocabulary]
    if missing:
        raise ImportError("discover: %s not in the ZTP model's %s" % (", ".join(missing), ", ".join(vocabulary)))
    return names


NVME, SSD, HDD = _known(DISK_TYPES, "nvme", "ssd", "hdd")
CPU_CORES, MEMORY_MB, DISK_GB, DISK_TYPE = _known(HARDWARE_FIELDS, "cpu_cores", "memory_mb", "disk_gb", "disk_type")

# Block devices that cannot hold the system: loop devices, RAM disks, optical
# drives, compressed swap, device-mapper and software RAID members.
_NOT_A_DISK = re.compile(r"(loop|ram|sr|zram|dm-|md)")
_NO_MAC = "00:00:00:00:00:00"
_GIB = 1073741824
_UNKNOWN_DMI = "NA"

# DMI serials firmware fills in when the vendor left it empty (lower case); the
# discover role's default for discover_serial_placeholders.
SERIAL_PLACEHOLDERS = (
    "", "0", "na", "none", "not specified", "not applicable", "to be filled by o.e.m.", "default string",
    "system serial number", "0123456789",
)


def _as_int(value: t.Any, default: int = 0) -> int:
    """Like Jinja's ``int`` filter: numbers and numeric strings, anything else is ``default``."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def _sysfs(value: t.Any) -> str:
    """A sysfs flag as text: ansible-core reports some sysfs numbers as str, some as int."""
    return str(value).strip()


def _interface_fact(facts: t.Mapping[str, t.Any], name: str) -> t.Mapping[str, t.Any]:
    """The fact describing interface ``name``. ansible-core keys it with '-' turned into
    '_' but '.' kept ('lan-b.20' -> lan_b.20; tests/unit fixture vlan-bridge-names.json).
    Facts keyed with '.' turned into '_' as well, as discover used to expect, are found too."""
    underscored = name.replace("-", "_")
    for key in (underscored, underscored.replace(".", "_"), name):
        fact = facts.get(key)
        if isinstance(fact, t.Mapping):
            return fact
    return {}


def nics(facts: t.Mapping[str, t.Any]) -> list[dict[str, str]]:
    """Interfaces with a real MAC, sorted by name: [{'name', 'mac'}]; loopback and
    interfaces without a MAC (tunnels, 00:00:00:00:00:00) are left out."""
    found = []
    for name in sorted(str(n) for n in facts.get("interfaces") or []):
        if name == "lo":
            continue
        mac = _interface_fact(facts, name).get("macaddress")
        if mac is None:
            continue
        mac = str(mac).lower()
        if mac != _NO_MAC:
            found.append({"name": name, "mac": mac})
    return found


def disk_type(name: str, device: t.Mapping[str, t.Any]) -> str:
    """nvme by name, else hdd when the kernel says rotational (the default when it does not say), else ssd."""
    if name.startswith("nvme"):
        return NVME
    return HDD if _sysfs(device.get("rotational", "1")) == "1" else SSD


def disks(facts: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """Block devices that can hold the system, sorted by name: [{'name', 'size_gb', 'type'}].

    Left out: loop, RAM, optical, zram, device-mapper and md devices, removable
    media (USB sticks, SD cards) and devices of zero sectors (empty card readers).
    The size is in GiB, rounded to 0.1.
    """
    found = []
    for name, device in sorted((str(n), d) for n, d in (facts.get("devices") or {}).items()):
        if not isinstance(device, t.Mapping) or _NOT_A_DISK.match(name) or _sysfs(device.get("removable", "0")) != "0":
            continue
        sectors = _as_int(device.get("sectors", 0))
        if sectors <= 0:
            continue
        size_gb = round(sectors * _as_int(device.get("sectorsize", 512)) / _GIB, 1)
        found.append({"name": name, "size_gb": size_gb, "type": disk_type(name, device)})
    return found


def system_disk(found: t.Sequence[t.Mapping[str, t.Any]]) -> t.Mapping[str, t.Any]:
    """The largest disk (the first by name among equals), or {} without disks."""
    return sorted(found, key=lambda disk: disk["size_gb"], reverse=True)[0] if found else {}


def _required(facts: t.Mapping[str, t.Any], *names: str) -> t.Any:
    """The first of the facts ``names`` present; a clear error when none is."""
    for name in names:
        if name in facts:
            return facts[name]
    raise DiscoverError(
        "the facts have no %s: gather at least the 'hardware' subset (discover_gather_subset)"
        % " or ".join(repr(n) for n in names))


def serial(facts: t.Mapping[str, t.Any], placeholders: t.Iterable[str] = SERIAL_PLACEHOLDERS) -> tuple[str, str]:
    """(serial, source): the DMI serial unless firmware left a placeholder there
    (compared case-insensitively), else the machine id (lab containers, boards without DMI)."""
    dmi_serial = str(facts.get("product_serial", "")).strip()
    if dmi_serial.lower() not in set(str(p).strip().lower() for p in placeholders):
        return dmi_serial, "dmi"
    return str(facts.get("machine_id", "")), "machine-id"


def observe(facts: t.Mapping[str, t.Any], placeholders: t.Iterable[str] = SERIAL_PLACEHOLDERS) -> dict[str, t.Any]:
    """What the host reports: serial and serial_source, macs, nics, disks, hardware and dmi.

    ``hardware`` holds the fields of the ZTP model: cpu_cores (vCPUs, else the
    processor count), memory_mb, and disk_gb and disk_type of the largest disk
    when there is one.
    """
    if not isinstance(facts, t.Mapping):
        raise DiscoverError("ansible_facts must be a mapping, got %s" % type(facts).__name__)
    if isinstance(placeholders, (str, bytes)) or not isinstance(placeholders, t.Iterable):
        raise DiscoverError("the serial placeholders must be a list of strings, got %r" % (placeholders,))
    found_serial, source = serial(facts, placeholders)
    found_nics = nics(facts)
    found_disks = disks(facts)
    hardware = {
        CPU_CORES: _required(facts, "processor_vcpus", "processor_count"),
        MEMORY_MB: _required(facts, "memtotal_mb"),
    }
    largest = system_disk(found_disks)
    if largest:
        hardware[DISK_GB] = largest["size_gb"]
        hardware[DISK_TYPE] = largest["type"]
    dmi = {
        "vendor": facts.get("system_vendor", _UNKNOWN_DMI),
        "product": facts.get("product_name", _UNKNOWN_DMI),
    }
    return {
        "serial": found_serial,
        "serial_source": source,
        "macs": [nic["mac"] for nic in found_nics],
        "nics": found_nics,
        "disks": found_disks,
        "hardware": hardware,
        "dmi": dmi,
        # what the ZTP record keeps beside the hardware (ztp_stage stores hardware and facts)
        "facts": {"nics": found_nics, "disks": found_disks, "serial_source": source, "dmi": dmi},
    }


def identity_problem(observed: t.Mapping[str, t.Any], serial: t.Any, mac: t.Any, host: str, address: str) -> str:
    """Why the host is not the IPC of its ZTP record (serial, then boot MAC), or '' when it is."""
    where = "device %s (host %s at %s)" % (serial, host, address)
    if observed.get("serial") != serial:
        return ("%s: the host reports serial %s (from %s) but its ZTP record says %s; what it reports is not stored "
                "in the record. A swapped IPC or a wrong management IP?"
                % (where, observed.get("serial") or "(none)", observed.get("serial_source"), serial))
    if mac not in (observed.get("macs") or []):
        found = ", ".join("%s %s" % (nic.get("name"), nic.get("mac")) for nic in observed.get("nics") or []) or "none"
        return ("%s: its ZTP record's boot MAC %s is on none of its NICs (%s); what it reports is not stored in the record."
                % (where, mac, found))
    return ""
