# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ZTP modules' choices are ztp_model's vocabularies, in their argument specs and their docs.

DOCUMENTATION must list choices literally (ansible-test reads it as text), so a
vocabulary changed in ztp_model makes these tests fail until the docs follow.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_model
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_devices import DEVICE_INPUT_KEYS
from ansible_collections.edgefleet.platform.plugins.modules import ztp_device, ztp_device_info, ztp_import

# (module, option path) -> name of the ztp_model vocabulary, read when the test runs
VOCABULARIES = {
    (ztp_device, "role"): "ROLES",
    (ztp_device, "os_family"): "OS_FAMILIES",
    (ztp_device, "state"): "STATES",
    (ztp_device, "stage"): "STAGES",
    (ztp_device, "hardware.disk_type"): "DISK_TYPES",
    (ztp_device_info, "state"): "STATES",
}
# Choices that are not part of the data model.
OWN_CHOICES = {(ztp_import, "format")}


def _option(options, path):
    *parents, leaf = path.split(".")
    for parent in parents:
        options = options[parent].get("suboptions") or options[parent]["options"]
    return options[leaf]


def _documented(module):
    return yaml.safe_load(module.DOCUMENTATION)["options"]


def _choice_paths(options, prefix=""):
    for name, option in options.items():
        if "choices" in option:
            yield prefix + name
        yield from _choice_paths(option.get("suboptions") or {}, prefix + name + ".")


@pytest.mark.parametrize("module,path", sorted(VOCABULARIES, key=lambda k: (k[0].__name__, k[1])),
                         ids=lambda v: v.__name__.rsplit(".", 1)[-1] if hasattr(v, "__name__") else v)
def test_choices_are_the_model_vocabulary(module, path):
    vocabulary = list(getattr(ztp_model, VOCABULARIES[(module, path)]))
    assert _option(_documented(module), path)["choices"] == vocabulary, "DOCUMENTATION of %s: %s" % (module.__name__, path)
    assert _option(module.argument_spec(), path)["choices"] == vocabulary


@pytest.mark.parametrize("module", [ztp_device, ztp_device_info, ztp_import], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_documented_choice_list_is_accounted_for(module):
    found = set(_choice_paths(_documented(module)))
    expected = set(p for m, p in VOCABULARIES if m is module) | set(p for m, p in OWN_CHOICES if m is module)
    assert found == expected


def test_hardware_options_are_the_model_hardware_fields():
    fields = list(ztp_model.HARDWARE_FIELDS)
    assert list(_documented(ztp_device)["hardware"]["suboptions"]) == fields
    assert list(ztp_device.argument_spec()["hardware"]["options"]) == fields


def test_device_options_are_the_data_layer_input_keys():
    assert ("serial",) + ztp_device.FIELDS == DEVICE_INPUT_KEYS
