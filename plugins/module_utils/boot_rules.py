# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network boot decisions: what a device boots, how it installs, on which disk.

Pure Python, no I/O, like ztp_model: the boot server (boot_http), the answer
files (answer_files) and the tests all call these, so each rule lives once.

The install intent of a device is read from its ZTP record's labels, so it is
planned with the rest of the record (ztp_import, ztp_device):

==============================  ===============================================
label                           meaning
==============================  ===============================================
``edgefleet.io/install``        ``image`` (golden image, the default for Linux),
                                ``preseed`` (Debian), ``autoinstall`` (Ubuntu),
                                ``unattend`` (Windows, its default)
``edgefleet.io/image``          golden image name (default: the server's)
``edgefleet.io/os-disk``        the install disk rule (see choose_disk)
``edgefleet.io/net``            ``dhcp`` (default) or ``static`` (the record's
                                ip with the three labels below)
``edgefleet.io/net-prefix``     static: prefix length, e.g. ``24``
``edgefleet.io/net-gateway``    static: default gateway
``edgefleet.io/net-dns``        static: name servers, comma-separated
``edgefleet.io/domain``         DNS domain; Windows joins it as AD domain
==============================  ===============================================
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import (
    LIFECYCLE,
    WINDOWS_HOSTNAME_MAX,
    ZtpError,
    normalize_mac,
)

LABEL = "edgefleet.io/"
INSTALL_METHODS = ("image", "preseed", "autoinstall", "unattend")
LINUX_METHODS = ("image", "preseed", "autoinstall")
NET_MODES = ("dhcp", "static")
# What a device's per-MAC iPXE script does.
BOOT_KINDS = ("install", "local", "none", "discovery")
# States in which a device still needs its OS (a failure in these stages is retried by netboot).
NEEDS_OS = LIFECYCLE[:LIFECYCLE.index("os_installed")]
NETBOOT_RETRY_STAGES = ("discover", "os_install")
DISK_RULE_KINDS = ("serial", "wwn", "by-id", "by-path", "model", "single")
DEFAULT_MIN_DISK_GB = 8

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
# Characters a value may hold to be written into an iPXE script or a kernel command line.
_SCRIPT_SAFE_RE = re.compile(r"^[A-Za-z0-9._:/=,@%+-]*$")
_WINDOWS_FORBIDDEN = set("\\/:*?\"<>|,~!@#$%^&'.(){}_ ")


class Network(t.NamedTuple):
    """How the installed system configures its boot NIC (pinned by MAC)."""

    mode: str
    mac: str
    address: t.Optional[str] = None  # ip/prefix when static
    gateway: t.Optional[str] = None
    dns: t.Tuple[str, ...] = ()


class InstallIntent(t.NamedTuple):
    method: str
    image: t.Optional[str]
    disk_rule: str
    network: Network
    domain: t.Optional[str]


class BootDecision(t.NamedTuple):
    kind: str  # one of BOOT_KINDS
    reason: str
    method: t.Optional[str] = None  # the install method when kind == install


# Install intent -------------------------------------------------------------------

def _label(device: dict, key: str) -> t.Optional[str]:
    value = (device.get("labels") or {}).get(LABEL + key)
    return value if value not in (None, "") else None


def install_method(device: dict) -> str:
    """How the device installs: its ``edgefleet.io/install`` label, checked against its OS family."""
    where = "device %s" % device["serial"]
    windows = device.get("os_family") == "windows"
    method = _label(device, "install") or ("unattend" if windows else "image")
    field = "labels.%sinstall" % LABEL
    if method not in INSTALL_METHODS:
        raise ZtpError(where, field, "%r is not one of %s" % (method, ", ".join(INSTALL_METHODS)))
    if windows and method != "unattend":
        raise ZtpError(where, field, "a Windows device installs with unattend, not %s" % method)
    if not windows and method not in LINUX_METHODS:
        raise ZtpError(where, field, "a Linux device installs with one of %s, not %s" % (", ".join(LINUX_METHODS), method))
    return method


def install_intent(device: dict, default_image: t.Optional[str] = None) -> InstallIntent:
    """The device's install plan from its record; bad labels fail naming the device and label."""
    where = "device %s" % device["serial"]
    method = install_method(device)
    image = _label(device, "image") or default_image
    if method == "image":
        if not image:
            raise ZtpError(where, "labels.%simage" % LABEL, "no golden image named and the boot server has no default")
        if not _IMAGE_RE.match(image):
            raise ZtpError(where, "labels.%simage" % LABEL, "%r is not an image name ([a-z0-9._-], at most 63)" % image)
    disk_rule = _label(device, "os-disk") or "single"
    parse_disk_rule(where, disk_rule)
    domain = _label(device, "domain")
    if domain is not None and not _DOMAIN_RE.match(domain):
        raise ZtpError(where, "labels.%sdomain" % LABEL, "%r is not a DNS domain (lower-case)" % domain)
    return InstallIntent(method, image if method == "image" else None, disk_rule, _network(where, device), domain)


def _network(where: str, device: dict) -> Network:
    mac = normalize_mac(where, "mac", device["mac"])
    mode = _label(device, "net") or "dhcp"
    if mode not in NET_MODES:
        raise ZtpError(where, "labels.%snet" % LABEL, "%r is not one of %s" % (mode, ", ".join(NET_MODES)))
    if mode == "dhcp":
        return Network("dhcp", mac)
    if not device.get("ip"):
        raise ZtpError(where, "ip", "a static network needs the device's ip")
    prefix = _label(device, "net-prefix")
    try:
        iface = ipaddress.ip_interface("%s/%s" % (device["ip"], prefix))
    except ValueError:
        raise ZtpError(where, "labels.%snet-prefix" % LABEL, "%r is not a prefix length for %s" % (prefix, device["ip"])) from None
    gateway = _label(device, "net-gateway")
    try:
        gw = ipaddress.ip_address(gateway or "")
    except ValueError:
        raise ZtpError(where, "labels.%snet-gateway" % LABEL, "%r is not an IP address" % (gateway,)) from None
    if gw not in iface.network:
        raise ZtpError(where, "labels.%snet-gateway" % LABEL, "%s is not in %s" % (gw, iface.network))
    dns = []
    for item in (_label(device, "net-dns") or "").split(","):
        if item.strip():
            try:
                dns.append(str(ipaddress.ip_address(item.strip())))
            except ValueError:
                raise ZtpError(where, "labels.%snet-dns" % LABEL, "%r is not an IP address" % item.strip()) from None
    return Network("static", mac, str(iface), str(gw), tuple(dns))


# Boot decision ---------------------------------------------------------------------

def boot_decision(device: t.Optional[dict], netboot: bool, awaiting_phone_home: bool = False) -> BootDecision:
    """What the per-MAC script does for a device (None: the MAC is not in the database).

    A device that still needs its OS installs while netboot is on; one that has
    its OS (os_installed or beyond, or failed in a later stage) boots its disk;
    a decommissioned one gets nothing; an unknown MAC is discovered.
    ``awaiting_phone_home``: the install's last step fetched its one-time token,
    which is still live: the install is written and the machine reboots into it,
    so it boots its disk (a PXE-first machine would otherwise install again,
    forever) until it phones home or the token expires.
    """
    if device is None:
        return BootDecision("discovery", "unknown MAC: recorded, waits for an operator or a matching record")
    state = device["state"]
    if state == "decommissioned":
        return BootDecision("none", "decommissioned")
    needs_os = state in NEEDS_OS or (state == "failed" and device.get("failed_stage") in NETBOOT_RETRY_STAGES)
    if not needs_os:
        now = "failed in %s" % device.get("failed_stage") if state == "failed" else state
        return BootDecision("local", "%s: boots its local disk" % now)
    if not netboot:
        return BootDecision("local", "%s, but netboot is off for it: boots its local disk" % state)
    if awaiting_phone_home:
        return BootDecision("local", "%s, install written (its one-time token is out): boots its local disk to phone home" % state)
    return BootDecision("install", "%s: needs its OS" % state, install_method(device))


# The address a device is reached at --------------------------------------------------

class PhoneHomeAddress(t.NamedTuple):
    """What a phone-home's source address does to the device's ``ip`` (the inventory's ansible_host)."""

    seen: t.Optional[str]  # the caller's address, when one the controller can reach
    ip: t.Optional[str]  # the address to record (None: the record's ip stays as it is)
    note: t.Optional[str]  # why the record's ip does not say where the call came from


def plain_address(text: t.Optional[str]) -> t.Optional[str]:
    """An IP address in its canonical form (an IPv4-mapped IPv6 address as IPv4); None if it is none."""
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def reachable_address(source: t.Optional[str]) -> t.Optional[str]:
    """``source`` as a plain IP address when the controller could reach a device there: not
    loopback, unspecified, link-local (no zone to go with it) or multicast."""
    plain = plain_address(source)
    if plain is None:
        return None
    address = ipaddress.ip_address(plain)
    if address.is_loopback or address.is_unspecified or address.is_link_local or address.is_multicast:
        return None
    return plain


def phone_home_address(device: dict, source: t.Optional[str]) -> PhoneHomeAddress:
    """The device's address after a phone-home from ``source`` (the caller, seen by the boot server).

    A device installed with DHCP gets the address it called from, so the
    configure stage reaches it with no one typing it in. The record's ip is an
    operator's and is kept (the mismatch noted, never overwritten) when the
    install plan is static (``edgefleet.io/net: static``), or when it is not the
    address a previous phone-home recorded (``facts.phone_home.address``):
    a reinstall that got a new lease replaces the old lease, not an address
    someone planned. A source the controller cannot reach records nothing.
    """
    seen = reachable_address(source)
    current = device.get("ip") or None
    if seen is None:
        if current:
            return PhoneHomeAddress(None, None, None)
        return PhoneHomeAddress(None, None, "no address recorded: the call came from %s, not an address to reach the device at"
                                % (source or "an unknown address"))
    if current == seen:
        return PhoneHomeAddress(seen, None, None)
    static = _label(device, "net") == "static"
    previous = ((device.get("facts") or {}).get("phone_home") or {}).get("address")
    if current is None or (not static and current == previous):
        return PhoneHomeAddress(seen, seen, None)
    kept = "its static address" if static else "the address its record was given"
    return PhoneHomeAddress(seen, None, "the phone-home came from %s: %s %s is kept" % (seen, kept, current))


# Disk choice -----------------------------------------------------------------------

def parse_disk_rule(where: str, rule: str) -> t.Tuple[str, str]:
    """``kind:value`` (serial, wwn, by-id, by-path, model glob) or ``single``."""
    field = "labels.%sos-disk" % LABEL
    if rule == "single":
        return ("single", "")
    kind, sep, value = rule.partition(":")
    if not sep or kind not in DISK_RULE_KINDS or kind == "single" or not value:
        raise ZtpError(where, field, "%r is not a disk rule (%s:<value>, or single)"
                       % (rule, "|".join(k for k in DISK_RULE_KINDS if k != "single")))
    return (kind, value)


def _internal(disk: dict) -> bool:
    return not disk.get("removable") and disk.get("transport") not in ("usb", "mmc") and not disk.get("readonly")


def _matches(kind: str, value: str, disk: dict) -> bool:
    if kind == "serial":
        return (disk.get("serial") or "").strip() == value
    if kind == "wwn":
        return (disk.get("wwn") or "").lower() == value.lower()
    if kind == "by-id":
        return any(fnmatch.fnmatchcase(link, value) for link in disk.get("by_id") or ())
    if kind == "by-path":
        return disk.get("by_path") == value
    return fnmatch.fnmatchcase(disk.get("model") or "", value)


def choose_disk(where: str, rule: str, disks: t.Sequence[dict], min_gb: float = DEFAULT_MIN_DISK_GB) -> dict:
    """The one disk the rule names among what the deployer saw; never "the first one".

    ``disks``: ``{name, size_bytes, removable, transport, readonly, model, serial,
    wwn, by_id: [..], by_path}`` as lsblk reports them. ``single`` takes the
    only internal (not removable, not USB/MMC) disk of at least ``min_gb``; any
    rule that matches none or several disks refuses, listing the candidates, so
    an operator records a precise rule instead of the installer guessing.
    """
    kind, value = parse_disk_rule(where, rule)
    candidates = [d for d in disks if isinstance(d, dict) and d.get("name")]
    big_enough = [d for d in candidates if (d.get("size_bytes") or 0) >= min_gb * 1024 ** 3]
    if kind == "single":
        found = [d for d in big_enough if _internal(d)]
    elif kind == "model":
        found = [d for d in big_enough if _internal(d) and _matches(kind, value, d)]
    else:  # an identity names the disk exactly, even a removable one
        found = [d for d in big_enough if _matches(kind, value, d)]
    if len(found) == 1:
        return found[0]
    listing = "; ".join("%s (%s, %.0f GB, serial %s%s)" % (
        d["name"], d.get("model") or "?", (d.get("size_bytes") or 0) / 1024 ** 3, d.get("serial") or "?",
        "" if _internal(d) else ", removable") for d in candidates) or "none"
    field = "labels.%sos-disk" % LABEL
    if not found:
        raise ZtpError(where, field, "rule %r matches no disk of at least %s GB; the device has: %s" % (rule, min_gb, listing))
    raise ZtpError(where, field, "rule %r matches %d disks, record one with serial:, wwn: or by-id:; the device has: %s"
                   % (rule, len(found), listing))


# Names ------------------------------------------------------------------------------

def computer_name(device: dict) -> str:
    """The Windows ComputerName: the record's hostname, checked against Windows' rules.

    At most 15 characters (NetBIOS), not digits only, none of the forbidden
    characters; ztp_model derives hostnames that fit, this refuses one that does not.
    """
    where = "device %s" % device["serial"]
    name = device["hostname"]
    if len(name) > WINDOWS_HOSTNAME_MAX:
        raise ZtpError(where, "hostname", "%r is %d characters long, a Windows ComputerName holds at most %d"
                       % (name, len(name), WINDOWS_HOSTNAME_MAX))
    if name.isdigit() or set(name) & _WINDOWS_FORBIDDEN:
        raise ZtpError(where, "hostname", "%r is not a valid Windows ComputerName" % name)
    return name.upper()


def fqdn(device: dict, intent: InstallIntent) -> str:
    return "%s.%s" % (device["hostname"], intent.domain) if intent.domain else device["hostname"]


def script_value(where: str, field: str, value: str) -> str:
    """A value checked safe for an iPXE script or a kernel command line (no spaces, quotes, ${})."""
    if not isinstance(value, str) or not _SCRIPT_SAFE_RE.match(value):
        raise ZtpError(where, field, "%r holds characters that cannot go into a boot script" % (value,))
    return value


def mac_hexhyp(mac: str) -> str:
    """00:11:22:33:44:55 -> 00-11-22-33-44-55 (iPXE ${mac:hexhyp}, the per-MAC file names)."""
    return mac.replace(":", "-")
