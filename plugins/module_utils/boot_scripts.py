# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iPXE scripts: the entry script dnsmasq hands out and the per-MAC scripts.

The decision is boot_rules.boot_decision; this only writes it as iPXE. Every
value written into a script is checked by boot_rules.script_value (no spaces,
quotes or ``${``), so a record cannot add commands to a script.
"""

from __future__ import annotations

import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.boot_rules import (
    BootDecision,
    InstallIntent,
    mac_hexhyp,
    script_value,
)

DISCOVERY_RETRY_SECONDS = 60
# What the entry script reports on its first HTTP call (iPXE settings, https://ipxe.org/cfg),
# as iPXE expands them in the URL: text settings percent-encoded (:uristring); the UUID in its
# own canonical text form (hex and dashes), since :uristring would format its raw bytes and a
# zero byte (QEMU's default UUID, a blank SMBIOS) ends the whole URL there.
REPORTED = ("serial", "uuid", "manufacturer", "product", "platform", "arch")
_EXPANSION = {"uuid": "${uuid}", "arch": "${buildarch:uristring}"}


class ScriptUrls(t.NamedTuple):
    boot_url: str  # this boot server
    image_url: str  # the image server: installers, deployer, golden images


def entry_script(urls: ScriptUrls) -> str:
    """The script every iPXE client gets first: fetch the per-MAC one, saying who it is."""
    base = script_value("boot server", "boot_url", urls.boot_url.rstrip("/"))
    query = "&".join("%s=%s" % (k, _EXPANSION.get(k, "${%s:uristring}" % k)) for k in REPORTED)
    return ("#!ipxe\n"
            "# edgefleet.platform: every machine asks for its own script by MAC\n"
            "chain --autofree %s/boot/${mac:hexhyp}.ipxe?%s || goto failed\n"
            ":failed\n"
            "echo edgefleet: no boot script for ${mac}; booting the next device\n"
            "exit 1\n" % (base, query))


def device_script(decision: BootDecision, device: t.Optional[dict], intent: t.Optional[InstallIntent], urls: ScriptUrls,
                  mac: str) -> t.Optional[str]:
    """The per-MAC script, or None when the device gets nothing (decommissioned)."""
    base = script_value("boot server", "boot_url", urls.boot_url.rstrip("/"))
    images = script_value("boot server", "image_url", urls.image_url.rstrip("/"))
    hyp = mac_hexhyp(mac)
    if decision.kind == "none":
        return None
    if decision.kind == "discovery":
        return ("#!ipxe\n"
                "echo edgefleet: %s is not in the ZTP database: recorded, waiting to be claimed\n"
                "sleep %d\n"
                "chain --autofree %s/boot/%s.ipxe || exit 1\n" % (mac, DISCOVERY_RETRY_SECONDS, base, hyp))
    if device is None:
        raise ValueError("a %s script needs the device" % decision.kind)
    where = "device %s" % device["serial"]
    name = script_value(where, "hostname", device["hostname"])
    head = "#!ipxe\necho edgefleet: %s (%s): %s\n" % (name, device["serial"], decision.reason)
    if decision.kind == "local":
        return head + ("iseq ${platform} efi && exit 1 ||\n"
                       "sanboot --no-describe --drive 0x80 || exit 1\n")
    if intent is None:
        raise ValueError("an install script needs the device's install plan")
    answer = "%s/answer/%s" % (base, hyp)
    if decision.method == "image":
        image = script_value(where, "labels.edgefleet.io/image", t.cast(str, intent.image))
        return head + ("kernel %s/deployer/vmlinuz initrd=initrd.img console=tty0 console=ttyS0,115200 BOOTIF=01-%s"
                       " edgefleet.answer=%s edgefleet.image=%s/images/%s\n"
                       "initrd %s/deployer/initrd.img\n"
                       "boot || exit 1\n" % (images, hyp, answer, images, image, images))
    if decision.method == "preseed":
        domain = " domain=%s" % script_value(where, "labels.edgefleet.io/domain", intent.domain) if intent.domain else ""
        return head + ("kernel %s/debian-installer/amd64/linux initrd=initrd.gz auto=true priority=critical"
                       " BOOTIF=01-%s url=%s/preseed.cfg hostname=%s%s console=tty0 console=ttyS0,115200\n"
                       "initrd %s/debian-installer/amd64/initrd.gz\n"
                       "boot || exit 1\n" % (images, hyp, answer, name, domain, images))
    if decision.method == "autoinstall":
        return head + ("kernel %s/ubuntu/casper/vmlinuz initrd=initrd autoinstall ip=dhcp BOOTIF=01-%s"
                       " ds=nocloud-net;s=%s/ cloud-config-url=/dev/null\n"
                       "initrd %s/ubuntu/casper/initrd\n"
                       "boot || exit 1\n" % (images, hyp, answer, images))
    # unattend: wimboot with the device's answer file as autounattend.xml
    return head + ("kernel %s/windows/wimboot\n"
                   "initrd %s/autounattend.xml autounattend.xml\n"
                   "initrd %s/windows/boot/bcd BCD\n"
                   "initrd %s/windows/boot/boot.sdi boot.sdi\n"
                   "initrd %s/windows/sources/boot.wim boot.wim\n"
                   "boot || exit 1\n" % (images, answer, images, images, images))
