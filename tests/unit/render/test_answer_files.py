# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Answer files, each checked by its own flavour's validator, none holding a secret."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import answer_files as a
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_rules import install_intent
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import ZtpError

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl controller@ztp"
SETTINGS = a.AnswerSettings("http://192.0.2.1:8080", "http://192.0.2.1", (KEY,))
# here, not under tests/unit/plugins: make compat's venvs of older ansible-core minors carry no jsonschema
SCHEMA = os.path.join(os.path.dirname(__file__), "..", "plugins", "module_utils", "fixtures", "subiquity",
                      "autoinstall-schema.json")
STATIC = {"edgefleet.io/net": "static", "edgefleet.io/net-prefix": "24", "edgefleet.io/net-gateway": "192.0.2.1",
          "edgefleet.io/net-dns": "192.0.2.53", "edgefleet.io/domain": "plant-a.example"}


def device(os_family="linux", hostname="plant-a-c-sn0001", **labels):
    return {"serial": "SN-0001", "mac": "52:54:00:12:34:56", "hostname": hostname, "os_family": os_family,
            "state": "registered", "ip": "192.0.2.10", "labels": labels}


def render(kind, dev):
    intent = install_intent(dev, default_image="debian-12")
    return {"preseed": a.render_preseed, "user-data": a.render_user_data, "unattend": a.render_unattend,
            "finish": a.render_finish}[kind](dev, intent, SETTINGS)


def no_secret(text):
    lowered = text.lower()
    assert "edgefleet_token" not in lowered and not re.search(r"(?<![a-z])token=", lowered)
    for word in ("password>", "root-password", "user-password string", "plain_text_passwd", " passwd:", "\"passwd\""):
        assert word not in lowered, word


# Debian preseed ----------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [{}, STATIC], ids=["dhcp", "static"])
def test_preseed_passes_debconf_set_selections_checkonly(tmp_path, labels):
    checker = shutil.which("debconf-set-selections")
    assert checker, "debconf-set-selections (Debian's debconf package) is needed: apt-get install debconf"
    text = render("preseed", device(**labels))
    path = tmp_path / "preseed.cfg"
    path.write_text(text)
    done = subprocess.run([checker, "--checkonly", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "d-i netcfg/hostname string plant-a-c-sn0001" in text
    assert "d-i passwd/user-password-crypted password !" in text  # locked: no password exists
    no_secret(text.replace("d-i passwd/user-password-crypted password !", ""))
    if labels:
        assert "d-i netcfg/get_ipaddress string 192.0.2.10" in text and "d-i netcfg/get_netmask string 255.255.255.0" in text
        assert "d-i netcfg/get_domain string plant-a.example" in text


def test_the_checker_refuses_a_broken_preseed(tmp_path):
    """The validator can fail: a line without its type is refused."""
    path = tmp_path / "bad.cfg"
    path.write_text("d-i netcfg/hostname\n")
    done = subprocess.run(["debconf-set-selections", "--checkonly", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode != 0 or done.stderr


# Ubuntu autoinstall ---------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [{}, STATIC], ids=["dhcp", "static"])
def test_autoinstall_validates_against_subiquitys_schema(labels):
    with open(SCHEMA, encoding="utf-8") as handle:
        schema = json.load(handle)
    text = render("user-data", device(**labels))
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)["autoinstall"]
    jsonschema.validate(config, schema)
    assert config["ssh"] == {"install-server": True, "allow-pw": False, "authorized-keys": [KEY]}
    assert "identity" not in config  # it would need a password
    user = config["user-data"]["users"][0]
    assert user["lock_passwd"] is True and "passwd" not in user
    assert config["network"]["ethernets"]["boot0"]["match"] == {"macaddress": "52:54:00:12:34:56"}
    no_secret(text)


def test_the_schema_catches_a_bad_autoinstall():
    with open(SCHEMA, encoding="utf-8") as handle:
        schema = json.load(handle)
    config = yaml.safe_load(render("user-data", device()))["autoinstall"]
    config["identity"] = {"username": "x", "hostname": "y"}  # no password: subiquity refuses it
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)


# Windows unattend.xml ----------------------------------------------------------------------------

def test_unattend_is_well_formed_with_the_required_passes():
    text = render("unattend", device("windows", "plant-a-c-sn001", **{"edgefleet.io/domain": "corp.example"}))
    assert a.unattend_passes(text) == ["windowsPE", "specialize", "oobeSystem"]
    root = ET.fromstring(text)
    ns = {"u": a.UNATTEND_NS}
    assert root.find(".//u:settings[@pass='specialize']//u:ComputerName", ns).text == "PLANT-A-C-SN001"
    assert root.find(".//u:settings[@pass='specialize']//u:DNSDomain", ns).text == "corp.example"
    assert not [el for el in root.iter() if "Password" in el.tag or el.tag.endswith("Credentials")]
    assert KEY in text
    no_secret(text)


def test_unattend_refuses_a_windows_name_over_15_characters():
    with pytest.raises(ZtpError, match="16 characters long, a Windows ComputerName holds at most 15"):
        render("unattend", device("windows", "plant-a-c-sn0001"))


def test_unattend_passes_refuses_other_documents():
    with pytest.raises(ET.ParseError):
        a.unattend_passes("<unattend>")
    with pytest.raises(ValueError, match="not unattend"):
        a.unattend_passes("<html/>")


# Finish script and settings ------------------------------------------------------------------------

def test_finish_script_is_valid_sh_and_quotes_every_value(tmp_path):
    text = render("finish", device(**STATIC))
    path = tmp_path / "finish.sh"
    path.write_text(text)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
    assert "MACAddress=52:54:00:12:34:56" in text and "Address=192.0.2.10/24" in text
    assert "passwd --lock edgefleet" in text
    assert "(umask 077; wget -q -O \"$T/etc/edgefleet/phone-home.env\" http://192.0.2.1:8080/answer/52-54-00-12-34-56/phone-home.env)" in text
    no_secret(text)


def test_the_token_lives_only_in_phone_home_env():
    env = a.render_phone_home_env(device(), "T" * 43, SETTINGS)
    assert env == "EDGEFLEET_PHONE_HOME_URL=http://192.0.2.1:8080/phone-home\nEDGEFLEET_SERIAL=SN-0001\nEDGEFLEET_TOKEN=%s\n" % ("T" * 43)


@pytest.mark.parametrize("change, field", [
    ({"boot_url": "http://x/{{ 7 * 7 }}"}, "boot_url"),
    ({"ssh_keys": ()}, "ssh_keys"),
    ({"ssh_keys": ("ssh-ed25519 AAAA' ; reboot",)}, "ssh_keys[0]"),
    ({"admin_user": "root"}, "admin_user"),
    ({"timezone": "Europe/Berlin; reboot"}, "timezone"),
])
def test_bad_boot_server_settings_are_refused(change, field):
    with pytest.raises(ZtpError, match="boot server: field '%s'" % field.replace("[", r"\[").replace("]", r"\]")):
        a.check_settings(SETTINGS._replace(**change))


def test_braces_in_a_record_are_never_templated():
    """Answer files are built in Python: a label holding Jinja is not evaluated, and
    fields that reach an answer file refuse it."""
    dev = device(**{"line": "{{ lookup('pipe', 'id') }}"})
    for kind in ("preseed", "user-data", "finish"):
        text = render(kind, dev)
        assert "lookup(" not in text and "uid=" not in text
    with pytest.raises(ZtpError, match="labels.edgefleet.io/domain"):
        render("preseed", device(**{"edgefleet.io/domain": "{{ 7 * 7 }}"}))
