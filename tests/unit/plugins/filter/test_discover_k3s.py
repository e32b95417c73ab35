# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The discover_observe and k3s_checksums filters: wrappers, documentation, and the FQCN
wiring through Ansible's Templar with the real fixtures of the module_utils tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.filter import discover as discover_filter
from ansible_collections.edgefleet.platform.plugins.filter import k3s as k3s_filter
from ansible_collections.edgefleet.platform.plugins.module_utils import discover, k3s_release
from ansible_collections.edgefleet.platform.tests.unit.plugins.filter.test_sizing import FILTER_DIR, _template

FIXTURES = Path(discover.__file__).resolve().parents[2] / "tests" / "unit" / "plugins" / "module_utils" / "fixtures"
FILTERS = {"discover_observe": discover_filter, "discover_identity": discover_filter, "k3s_checksums": k3s_filter,
           "k3s_config_problems": k3s_filter, "k3s_critical_differences": k3s_filter, "k3s_label_problems": k3s_filter,
           "k3s_etcd_problems": k3s_filter, "k3s_minor_skip": k3s_filter, "k3s_reset_problem": k3s_filter,
           "k3s_node_meta_changes": k3s_filter, "k3s_system_problems": k3s_filter,
           "k3s_untolerated_taints": k3s_filter}


def fixture_facts(name: str) -> dict:
    return json.loads((FIXTURES / "discover" / (name + ".json")).read_text(encoding="utf-8"))["ansible_facts"]


def release_sums() -> str:
    return (FIXTURES / "k3s" / "sha256sum-amd64.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("name, plugin", sorted(FILTERS.items()))
def test_each_plugin_exports_its_filter(name, plugin):
    assert set(plugin.FilterModule().filters()) == {n for n, p in FILTERS.items() if p is plugin}
    assert name in plugin.FilterModule().filters()


def test_filters_return_the_module_utils_result():
    observe = discover_filter.FilterModule().filters()["discover_observe"]
    facts = fixture_facts("nvme-ipc")
    assert observe(facts) == discover.observe(facts)
    assert observe(facts, ["ipc7420-2315a0042"]) == discover.observe(facts, ["ipc7420-2315a0042"])
    checksums = k3s_filter.FilterModule().filters()["k3s_checksums"]
    assert checksums(release_sums(), source="x") == k3s_release.parse_checksums(release_sums())


@pytest.mark.parametrize("call, fragment", [
    (lambda: discover_filter.discover_observe({"processor_count": 1}), "the facts have no 'memtotal_mb'"),
    (lambda: k3s_filter.k3s_checksums("<html>", source="sha256sum-amd64.txt"),
     "sha256sum-amd64.txt line 1 is not '<sha256>  <file name>': '<html>'"),
])
def test_errors_become_filter_errors(call, fragment):
    with pytest.raises(AnsibleFilterError) as info:
        call()
    assert fragment in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_documentation(name):
    doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text(encoding="utf-8"))
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    documentation = doc["DOCUMENTATION"]
    assert documentation["name"] == name
    assert documentation["short_description"] and documentation["author"] and documentation["version_added"]
    assert all(isinstance(line, str) for line in documentation["description"])
    positional = [p.strip() for p in documentation["positional"].split(",")]
    assert set(positional) <= set(documentation["options"])
    assert f"edgefleet.platform.{name}" in doc["EXAMPLES"]
    assert "_value" in doc["RETURN"]


def test_documented_defaults_match_the_code():
    doc = yaml.safe_load((FILTER_DIR / "discover_observe.yml").read_text(encoding="utf-8"))
    assert tuple(doc["DOCUMENTATION"]["options"]["placeholders"]["default"]) == discover.SERIAL_PLACEHOLDERS
    observed = doc["RETURN"]["_value"]["contains"]
    assert set(observed) == set(discover.observe(fixture_facts("nvme-ipc")))
    assert set(observed["hardware"]["contains"]) == {"cpu_cores", "memory_mb", "disk_gb", "disk_type"}


def test_identity_through_templar():
    facts = fixture_facts("nvme-ipc")
    seen = discover.observe(facts)
    results = _template(
        {
            "same": "{{ seen | edgefleet.platform.discover_identity(seen.serial, seen.macs[0]) }}",
            "swapped": "{{ seen | edgefleet.platform.discover_identity('SN-X', seen.macs[0], 'ipc-1', '10.0.0.5') }}",
        },
        {"seen": seen},
    )
    assert results["same"] == {"value": ""}
    assert results["swapped"]["value"].startswith("device SN-X (host ipc-1 at 10.0.0.5): the host reports serial")


def test_through_templar():
    facts = fixture_facts("vlan-bridge-names")
    results = _template(
        {
            "observed": "{{ ansible_facts | edgefleet.platform.discover_observe(placeholders) }}",
            "default_placeholders": "{{ (ansible_facts | edgefleet.platform.discover_observe).serial_source }}",
            "dmi": "{{ (ansible_facts | combine({'product_serial': 'NA'}) | edgefleet.platform.discover_observe([])).serial }}",
            "missing": "{{ {'processor_count': 1} | edgefleet.platform.discover_observe }}",
            "sums": "{{ sums_text | edgefleet.platform.k3s_checksums(source='bundle/sha256sum-amd64.txt') }}",
            "refused": "{{ '<html>\n' | edgefleet.platform.k3s_checksums(source='https://mirror/v1.31.4%2Bk3s1/sha256sum-amd64.txt') }}",
        },
        {"ansible_facts": facts, "placeholders": ["na"], "sums_text": release_sums()},
    )
    assert results["observed"]["value"] == discover.observe(facts, ["na"])
    assert results["default_placeholders"]["value"] == "machine-id"
    assert results["dmi"]["value"] == "NA"
    assert "edgefleet.platform.discover_observe" in results["missing"]["error"]
    assert "the facts have no 'memtotal_mb'" in results["missing"]["error"]
    assert results["sums"]["value"] == k3s_release.parse_checksums(release_sums())
    assert "https://mirror/v1.31.4%2Bk3s1/sha256sum-amd64.txt line 1 is not '<sha256>  <file name>': '<html>'" \
        in results["refused"]["error"]
    assert "Traceback" not in results["refused"]["error"]


def test_k3s_filters_refuse_input_that_is_not_a_mapping_naming_it():
    with pytest.raises(AnsibleFilterError, match="k3s_config_host must be a mapping, got list"):
        k3s_filter.k3s_config_problems({"k3s_config_host": ["x"]}, "server", "v1.31.4+k3s1")
    with pytest.raises(AnsibleFilterError, match="the node list must be a mapping, got str"):
        k3s_filter.k3s_etcd_problems("[]", ["a"])
