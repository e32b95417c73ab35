# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-device answer files, built from the ZTP record in Python (never Jinja).

Debian preseed, Ubuntu autoinstall (NoCloud user-data and meta-data), Windows
unattend.xml, and the finish script the Linux flavours and the golden-image
deployer share. No answer file holds a password or a token: the one-time token
travels in ``phone-home.env``, which the device fetches once during its install
(boot_http issues it to that MAC), and accounts are key-only with locked
passwords. Every value from the record is checked (ztp_model, boot_rules)
before it is written, and written quoted for its format, so a ``{{ }}`` or a
quote in a record can neither template nor inject anything.
"""

from __future__ import annotations

import json
import re
import shlex
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.edgefleet.platform.plugins.module_utils.boot_rules import (
    InstallIntent,
    computer_name,
    fqdn,
    mac_hexhyp,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import ZtpError

_SSH_KEY_RE = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com)"
                         r" [A-Za-z0-9+/]+={0,3}( [A-Za-z0-9@._+-]{1,64})?$")
_URL_RE = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?$")
_PLAIN_RE = re.compile(r"^[A-Za-z0-9._/+-]{1,64}$")
UNATTEND_NS = "urn:schemas-microsoft-com:unattend"
WCM_NS = "http://schemas.microsoft.com/WMIConfig/2002/State"
UNATTEND_PASSES = ("windowsPE", "specialize", "oobeSystem")


class AnswerSettings(t.NamedTuple):
    """What the boot server adds to a record (role variables of pxe_server)."""

    boot_url: str  # this boot server, as devices reach it
    image_url: str  # the image server
    ssh_keys: t.Tuple[str, ...]  # the controller's public keys
    admin_user: str = "edgefleet"
    mirror_host: str = "deb.debian.org"
    mirror_dir: str = "/debian"
    timezone: str = "Etc/UTC"
    locale: str = "en_US.UTF-8"
    keyboard: str = "us"


def check_settings(settings: AnswerSettings) -> AnswerSettings:
    for field in ("boot_url", "image_url"):
        if not _URL_RE.match(getattr(settings, field)):
            raise ZtpError("boot server", field, "%r is not a plain http(s) URL" % getattr(settings, field))
    if not settings.ssh_keys:
        raise ZtpError("boot server", "ssh_keys", "at least one controller SSH public key is required (no password is ever set)")
    for index, key in enumerate(settings.ssh_keys):
        if not _SSH_KEY_RE.match(key):
            raise ZtpError("boot server", "ssh_keys[%d]" % index, "is not one OpenSSH public key line")
    for field in ("admin_user", "mirror_host", "mirror_dir", "timezone", "locale", "keyboard"):
        if not _PLAIN_RE.match(getattr(settings, field)):
            raise ZtpError("boot server", field, "%r holds characters an answer file cannot take" % getattr(settings, field))
    if not re.match(r"^[a-z_][a-z0-9_-]{0,30}$", settings.admin_user) or settings.admin_user == "root":
        raise ZtpError("boot server", "admin_user", "%r is not a plain non-root user name" % settings.admin_user)
    return settings


def _device_url(settings: AnswerSettings, device: dict, name: str) -> str:
    return "%s/answer/%s/%s" % (settings.boot_url.rstrip("/"), mac_hexhyp(device["mac"]), name)


# Finish script (Linux: preseed, autoinstall and the golden-image deployer) ---------------

def render_finish(device: dict, intent: InstallIntent, settings: AnswerSettings) -> str:
    """``sh finish.sh <target root> [--network]``: what every Linux install ends with.

    Hostname from the record, the admin user key-only with the controller's
    keys, the phone-home unit with its one-time token (fetched into a 0600 file,
    never on a command line) and, for the golden image (--network), the
    network pinned to the boot MAC.
    """
    q = shlex.quote
    net = intent.network
    lines = ["[Match]", "MACAddress=%s" % net.mac, "", "[Network]"]
    if net.mode == "dhcp":
        lines.append("DHCP=yes")
    else:
        lines += ["Address=%s" % net.address, "Gateway=%s" % net.gateway] + ["DNS=%s" % d for d in net.dns]
    if intent.domain:
        lines.append("Domains=%s" % intent.domain)
    network_file = "\n".join(lines) + "\n"
    keys = "\n".join(settings.ssh_keys) + "\n"
    user = settings.admin_user
    return """#!/bin/sh
# edgefleet.platform finish script for %(serial)s (generated from the ZTP record)
set -eu
T=${1:?target root}
umask 022
printf '%%s\\n' %(hostname)s > "$T/etc/hostname"
printf '127.0.1.1 %%s %%s\\n' %(fqdn)s %(hostname)s >> "$T/etc/hosts"
if [ "${2:-}" = --network ]; then
  mkdir -p "$T/etc/systemd/network"
  printf '%%s' %(network)s > "$T/etc/systemd/network/10-edgefleet-boot.network"
  ln -sf /lib/systemd/system/systemd-networkd.service \\
    "$T/etc/systemd/system/multi-user.target.wants/systemd-networkd.service" 2>/dev/null || true
fi
# absolute paths: the deployer's busybox would run its own applet for a bare name
if ! chroot "$T" /usr/bin/id %(user)s >/dev/null 2>&1; then
  chroot "$T" /usr/sbin/useradd --create-home --shell /bin/bash %(user)s
fi
chroot "$T" /usr/bin/passwd --lock %(user)s >/dev/null
mkdir -p "$T/etc/sudoers.d"
printf '%%s ALL=(ALL) NOPASSWD: ALL\\n' %(user)s > "$T/etc/sudoers.d/90-edgefleet"
chmod 0440 "$T/etc/sudoers.d/90-edgefleet"
home=$(chroot "$T" /bin/sh -c '/usr/bin/getent passwd %(user)s | /usr/bin/cut -d: -f6')
mkdir -p "$T$home/.ssh"
printf '%%s' %(keys)s > "$T$home/.ssh/authorized_keys"
chmod 0700 "$T$home/.ssh"; chmod 0600 "$T$home/.ssh/authorized_keys"
chroot "$T" /usr/bin/chown -R %(user)s: "$home/.ssh"
mkdir -p "$T/etc/edgefleet" "$T/usr/local/sbin"
wget -q -O "$T/usr/local/sbin/edgefleet-phone-home" %(client)s
chmod 0755 "$T/usr/local/sbin/edgefleet-phone-home"
wget -q -O "$T/etc/systemd/system/edgefleet-phone-home.service" %(unit)s
ln -sf /etc/systemd/system/edgefleet-phone-home.service "$T/etc/systemd/system/multi-user.target.wants/edgefleet-phone-home.service"
(umask 077; wget -q -O "$T/etc/edgefleet/phone-home.env" %(env)s)
""" % {
        "serial": device["serial"], "hostname": q(device["hostname"]), "fqdn": q(fqdn(device, intent)),
        "network": q(network_file), "user": q(user), "keys": q(keys),
        "client": q(settings.boot_url.rstrip("/") + "/files/edgefleet-phone-home"),
        "unit": q(settings.boot_url.rstrip("/") + "/files/edgefleet-phone-home.service"),
        "env": q(_device_url(settings, device, "phone-home.env")),
    }


def render_phone_home_env(device: dict, token: str, settings: AnswerSettings) -> str:
    """The one token-bearing file: served once, to the device's MAC, written 0600."""
    return "EDGEFLEET_PHONE_HOME_URL=%s\nEDGEFLEET_SERIAL=%s\nEDGEFLEET_TOKEN=%s\n" % (
        settings.boot_url.rstrip("/") + "/phone-home", device["serial"], token)


def _fetch_finish(device: dict, settings: AnswerSettings) -> str:
    return "wget -q -O /tmp/edgefleet-finish.sh %s && sh /tmp/edgefleet-finish.sh /target" % shlex.quote(
        _device_url(settings, device, "finish.sh"))


def _pick_disk(device: dict, settings: AnswerSettings) -> str:
    return "wget -q -O /tmp/edgefleet-pick-disk %s && sh /tmp/edgefleet-pick-disk %s > /tmp/edgefleet-disk" % (
        shlex.quote(settings.boot_url.rstrip("/") + "/files/edgefleet-pick-disk"),
        shlex.quote(_device_url(settings, device, "disk")))


# Debian preseed -------------------------------------------------------------------------

def render_preseed(device: dict, intent: InstallIntent, settings: AnswerSettings) -> str:
    """debconf selections for the Debian installer (checked by debconf-set-selections --checkonly)."""
    net = intent.network
    sel = [
        ("debian-installer/locale", "string", settings.locale),
        ("keyboard-configuration/xkb-keymap", "select", settings.keyboard),
        # BOOTIF on the kernel line pins the install to the boot NIC; names come from the record
        ("netcfg/choose_interface", "select", "auto"),
        ("netcfg/hostname", "string", device["hostname"]),
        ("netcfg/get_hostname", "string", device["hostname"]),
        ("netcfg/get_domain", "string", intent.domain or ""),
    ]
    if net.mode == "static":
        address, prefix = t.cast(str, net.address).split("/")
        sel += [("netcfg/disable_autoconfig", "boolean", "true"),
                ("netcfg/get_ipaddress", "string", address),
                ("netcfg/get_netmask", "string", _netmask(int(prefix))),
                ("netcfg/get_gateway", "string", t.cast(str, net.gateway)),
                ("netcfg/get_nameservers", "string", " ".join(net.dns)),
                ("netcfg/confirm_static", "boolean", "true")]
    sel += [
        ("mirror/country", "string", "manual"),
        ("mirror/http/hostname", "string", settings.mirror_host),
        ("mirror/http/directory", "string", settings.mirror_dir),
        ("mirror/http/proxy", "string", ""),
        # no password anywhere: root has none, the admin user's is locked; SSH keys only
        ("passwd/root-login", "boolean", "false"),
        ("passwd/make-user", "boolean", "true"),
        ("passwd/user-fullname", "string", "edgefleet admin"),
        ("passwd/username", "string", settings.admin_user),
        ("passwd/user-password-crypted", "password", "!"),
        ("clock-setup/utc", "boolean", "true"),
        ("time/zone", "string", settings.timezone),
        # the disk: chosen by the boot server from what the installer sees (boot_rules.choose_disk)
        ("partman/early_command", "string", _pick_disk(device, settings)
         + ' && debconf-set partman-auto/disk "$(cat /tmp/edgefleet-disk)"'),
        ("partman-auto/method", "string", "regular"),
        ("partman-auto/choose_recipe", "select", "atomic"),
        ("partman-lvm/device_remove_lvm", "boolean", "true"),
        ("partman-md/device_remove_md", "boolean", "true"),
        ("partman-partitioning/confirm_write_new_label", "boolean", "true"),
        ("partman/choose_partition", "select", "finish"),
        ("partman/confirm", "boolean", "true"),
        ("partman/confirm_nooverwrite", "boolean", "true"),
        ("apt-setup/cdrom/set-first", "boolean", "false"),
        ("pkgsel/include", "string", "openssh-server sudo wget"),
        ("pkgsel/upgrade", "select", "none"),
        ("popularity-contest/participate", "boolean", "false"),
        ("grub-installer/only_debian", "boolean", "true"),
        ("grub-installer/bootdev", "string", "default"),
        ("preseed/late_command", "string", _fetch_finish(device, settings)),
        ("finish-install/reboot_in_progress", "note", ""),
    ]
    out = ["# Debian preseed for %s (%s), generated from the ZTP record" % (device["hostname"], device["serial"])]
    out += ["d-i %s %s %s" % (key, kind, value) for key, kind, value in sel]
    out.append("tasksel tasksel/first multiselect standard, ssh-server")
    for line in out:
        if "\n" in line or "\r" in line:  # pragma: no cover - every value is checked single-line before
            raise ZtpError("device %s" % device["serial"], "preseed", "a value spans lines")
    return "\n".join(out) + "\n"


def _netmask(prefix: int) -> str:
    bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return ".".join(str((bits >> s) & 0xFF) for s in (24, 16, 8, 0))


# Ubuntu autoinstall ----------------------------------------------------------------------

def autoinstall_config(device: dict, intent: InstallIntent, settings: AnswerSettings) -> dict:
    """The ``autoinstall`` mapping (validated against subiquity's schema in the tests)."""
    net = intent.network
    eth = {"match": {"macaddress": net.mac}, "set-name": "boot0"}  # type: dict[str, t.Any]
    if net.mode == "dhcp":
        eth["dhcp4"] = True
    else:
        eth.update({"addresses": [net.address], "routes": [{"to": "default", "via": net.gateway}],
                    "nameservers": {"addresses": list(net.dns)}})
    return {
        "version": 1,
        "locale": settings.locale,
        "keyboard": {"layout": settings.keyboard},
        "network": {"version": 2, "ethernets": {"boot0": eth}},
        "ssh": {"install-server": True, "allow-pw": False, "authorized-keys": list(settings.ssh_keys)},
        # identity needs a password: user-data creates the user key-only instead
        "user-data": {
            "hostname": device["hostname"], "fqdn": fqdn(device, intent), "timezone": settings.timezone,
            "users": [{"name": settings.admin_user, "lock_passwd": True, "shell": "/bin/bash",
                       "sudo": "ALL=(ALL) NOPASSWD:ALL", "ssh_authorized_keys": list(settings.ssh_keys)}],
        },
        "storage": {"layout": {"name": "direct", "match": {"path": "/dev/edgefleet-os-disk"}}},
        "early-commands": [_pick_disk(device, settings) + ' && ln -sf "$(cat /tmp/edgefleet-disk)" /dev/edgefleet-os-disk'],
        "late-commands": [_fetch_finish(device, settings)],
        "shutdown": "reboot",
    }


def render_user_data(device: dict, intent: InstallIntent, settings: AnswerSettings) -> str:
    # JSON is YAML: every string is quoted, nothing in a record can change the structure
    return "#cloud-config\n" + json.dumps({"autoinstall": autoinstall_config(device, intent, settings)}, indent=2, sort_keys=True) + "\n"


def render_meta_data(device: dict) -> str:
    return json.dumps({"instance-id": "edgefleet-%s" % device["serial"], "local-hostname": device["hostname"]}) + "\n"


# Windows unattend.xml ----------------------------------------------------------------------

def _el(parent: ET.Element, tag: str, attrs: t.Optional[dict] = None, text: t.Optional[str] = None) -> ET.Element:
    """A child in the unattend namespace; ``wcm:action`` attributes in theirs."""
    qualified = dict(("{%s}%s" % (WCM_NS, k[4:]) if k.startswith("wcm:") else k, v) for k, v in (attrs or {}).items())
    el = ET.SubElement(parent, "{%s}%s" % (UNATTEND_NS, tag), qualified)
    el.text = text
    return el


def _component(settings_el: ET.Element, name: str) -> ET.Element:
    return _el(settings_el, "component", {
        "name": name, "processorArchitecture": "amd64", "publicKeyToken": "31bf3856ad364e35",
        "language": "neutral", "versionScope": "nonSxS"})


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    return _el(parent, tag, None, text)


def _ps(command: str) -> str:
    return "powershell.exe -NoProfile -ExecutionPolicy Bypass -Command \"%s\"" % command


def render_unattend(device: dict, intent: InstallIntent, settings: AnswerSettings, disk_id: int = 0) -> str:
    """unattend.xml with the windowsPE, specialize and oobeSystem passes.

    ComputerName is the record's hostname (at most 15 characters, checked);
    no account gets a password: the specialize pass installs OpenSSH with the
    controller's keys for administrators and enables WinRM, fetches the
    phone-home client and its one-time token (0600-equivalent ACL), and
    registers the client as a start-up task. A domain named in the record is
    the machine's DNS domain; joining it needs a credential, which an answer
    file must never hold, so the configure stage joins with one from Vault.
    """
    name = computer_name(device)
    ET.register_namespace("", UNATTEND_NS)
    ET.register_namespace("wcm", WCM_NS)
    root = ET.Element("{%s}unattend" % UNATTEND_NS)
    pe = _el(root, "settings", {"pass": "windowsPE"})
    intl = _component(pe, "Microsoft-Windows-International-Core-WinPE")
    for tag in ("InputLocale", "SystemLocale", "UILanguage", "UserLocale"):
        _text(intl, tag, "en-US")
    setup = _component(pe, "Microsoft-Windows-Setup")
    disk_cfg = _el(_el(setup, "DiskConfiguration"), "Disk", {"wcm:action": "add"})
    _text(disk_cfg, "DiskID", str(disk_id))
    _text(disk_cfg, "WillWipeDisk", "true")
    parts = _el(disk_cfg, "CreatePartitions")
    for order, (kind, size) in enumerate((("EFI", "260"), ("MSR", "16"), ("Primary", None)), start=1):
        part = _el(parts, "CreatePartition", {"wcm:action": "add"})
        _text(part, "Order", str(order))
        _text(part, "Type", kind)
        if size:
            _text(part, "Size", size)
        else:
            _text(part, "Extend", "true")
    install_to = _el(_el(_el(setup, "ImageInstall"), "OSImage"), "InstallTo")
    _text(install_to, "DiskID", str(disk_id))
    _text(install_to, "PartitionID", "3")
    user = _el(setup, "UserData")
    _text(user, "AcceptEula", "true")

    spec = _el(root, "settings", {"pass": "specialize"})
    shell = _component(spec, "Microsoft-Windows-Shell-Setup")
    _text(shell, "ComputerName", name)
    _text(shell, "TimeZone", "UTC")
    if intent.domain:
        dns = _component(spec, "Microsoft-Windows-DNS-Client")
        _text(dns, "DNSDomain", intent.domain)
    keys = "`n".join(settings.ssh_keys)
    base = settings.boot_url.rstrip("/")
    commands = [
        "New-Item -ItemType Directory -Force C:\\ProgramData\\edgefleet | Out-Null",
        "Add-WindowsCapability -Online -Name OpenSSH.Server~~~~0.0.1.0; Set-Service sshd -StartupType Automatic",
        "Set-Content -Path C:\\ProgramData\\ssh\\administrators_authorized_keys -Value \\\"%s\\\"; "
        "icacls C:\\ProgramData\\ssh\\administrators_authorized_keys /inheritance:r /grant SYSTEM:F /grant Administrators:F" % keys,
        "Enable-PSRemoting -Force -SkipNetworkProfileCheck",
        "Invoke-WebRequest -UseBasicParsing -Uri %s/files/edgefleet-phone-home.ps1"
        " -OutFile C:\\ProgramData\\edgefleet\\phone-home.ps1" % base,
        "Invoke-WebRequest -UseBasicParsing -Uri %s -OutFile C:\\ProgramData\\edgefleet\\phone-home.env; "
        "icacls C:\\ProgramData\\edgefleet\\phone-home.env /inheritance:r /grant SYSTEM:F"
        % _device_url(settings, device, "phone-home.env"),
        "Register-ScheduledTask -TaskName edgefleet-phone-home -User SYSTEM -Trigger (New-ScheduledTaskTrigger -AtStartup)"
        " -Action (New-ScheduledTaskAction -Execute powershell.exe -Argument"
        " '-NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\edgefleet\\phone-home.ps1')",
    ]
    deploy = _component(spec, "Microsoft-Windows-Deployment")
    runs = _el(deploy, "RunSynchronous")
    for order, command in enumerate(commands, start=1):
        cmd = _el(runs, "RunSynchronousCommand", {"wcm:action": "add"})
        _text(cmd, "Order", str(order))
        _text(cmd, "Path", _ps(command))

    oobe = _el(root, "settings", {"pass": "oobeSystem"})
    shell = _component(oobe, "Microsoft-Windows-Shell-Setup")
    box = _el(shell, "OOBE")
    for tag, value in (("HideEULAPage", "true"), ("HideOnlineAccountScreens", "true"), ("HideWirelessSetupInOOBE", "true"),
                       ("ProtectYourPC", "3"), ("SkipMachineOOBE", "true"), ("SkipUserOOBE", "true")):
        _text(box, tag, value)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"


def unattend_passes(document: str) -> t.List[str]:
    """The passes an unattend.xml configures (parsing proves it well-formed)."""
    root = ET.fromstring(document)
    if root.tag != "{%s}unattend" % UNATTEND_NS:
        raise ValueError("the root element is %s, not unattend" % root.tag)
    return [el.get("pass", "") for el in root.findall("{%s}settings" % UNATTEND_NS)]
