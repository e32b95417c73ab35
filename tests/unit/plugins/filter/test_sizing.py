# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the edgefleet.platform sizing filters: the wrappers, their
documentation, and the FQCN wiring through Ansible's Templar."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.filter.sizing import FilterModule, _filter
from ansible_collections.edgefleet.platform.plugins.module_utils import sizing

FILTER_NAMES = {
    "workload_resources", "node_requirements", "sizing_report", "enforce_sizing", "cluster_sizing", "storage_policy",
    "fleet_sizing",
}
# .../ansible_collections/edgefleet/platform/plugins/module_utils/sizing.py
COLLECTIONS_DIR = Path(sizing.__file__).parents[5]
FILTER_DIR = Path(sizing.__file__).resolve().parents[1] / "filter"

NODE = {"inventory_hostname": "ipc-01", "ztp_cpu_cores": 2, "ztp_memory_mb": 3800,
        "ztp_disk_gb": 59.6, "ztp_disk_type": "ssd"}
SMALL = {"inventory_hostname": "ipc-02", "ztp_cpu_cores": 1, "ztp_memory_mb": 3000,
         "ztp_disk_gb": 40, "ztp_disk_type": "hdd"}


@pytest.fixture(scope="module")
def filters():
    return FilterModule().filters()


def test_exactly_the_documented_filters(filters):
    assert set(filters) == FILTER_NAMES


@pytest.mark.parametrize(
    "name, args",
    [
        ("workload_resources", ([{"type": "heavy", "count": 2}],)),
        ("node_requirements", (12,)),
        ("sizing_report", (NODE, [{"type": "medium"}])),
        ("enforce_sizing", (NODE, [{"type": "medium"}])),
        ("cluster_sizing", ([NODE, NODE, NODE], [{"type": "lightweight", "count": 9}])),
        ("storage_policy", ("configuration",)),
    ],
)
def test_filters_return_the_module_utils_result(filters, name, args):
    assert filters[name](*args) == getattr(sizing, name)(*args)


@pytest.mark.parametrize(
    "name, args, fragment",
    [
        ("workload_resources", ([{"type": "gpu", "name": "vision"}],), "workloads[0] ('vision'): unknown type 'gpu'"),
        ("node_requirements", (-3,), "workload_count must be >= 0, got -3"),
        ("sizing_report", ({"inventory_hostname": "ipc-09"}, []), "node ipc-09: missing hardware field ztp_cpu_cores"),
        ("enforce_sizing", (SMALL, [{"type": "heavy"}]), "node ipc-02 does not meet the edge sizing guidelines"),
        ("cluster_sizing", ([], []), "nodes must be a non-empty list"),
        ("storage_policy", ("audit_logs",), "unknown data type 'audit_logs'"),
    ],
)
def test_errors_become_filter_errors(filters, name, args, fragment):
    with pytest.raises(AnsibleFilterError) as info:
        filters[name](*args)
    assert fragment in str(info.value)
    # No chained Python exception to print as a traceback.
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_enforce_error_lists_every_violation(filters):
    with pytest.raises(AnsibleFilterError) as info:
        filters["enforce_sizing"](SMALL, [{"type": "heavy"}])
    violations = sizing.sizing_report(SMALL, [{"type": "heavy"}])["violations"]
    assert len(violations) >= 4
    for violation in violations:
        assert violation in str(info.value)


def test_unexpected_errors_are_not_hidden():
    # Only SizingError is bad input; a bug must still surface as itself.
    def broken(data_type):
        raise KeyError(data_type)

    with pytest.raises(KeyError):
        _filter(broken)("configuration")


# --- documentation -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FILTER_NAMES))
def test_filter_documentation(name):
    doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text(encoding="utf-8"))
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    documentation = doc["DOCUMENTATION"]
    assert documentation["name"] == name
    assert str(documentation["version_added"]) == "0.1.0"
    assert documentation["short_description"] and documentation["author"]
    assert all(isinstance(line, str) for line in documentation["description"])
    positional = [p.strip() for p in documentation["positional"].split(",")]
    assert set(positional) <= set(documentation["options"])
    assert f"edgefleet.platform.{name}" in doc["EXAMPLES"]
    assert "_value" in doc["RETURN"]


def test_documented_rules_match_the_data():
    text = " ".join(" ".join((FILTER_DIR / f"{name}.yml").read_text(encoding="utf-8") for name in FILTER_NAMES).split())
    reserve = sizing.RESERVE
    assert f"{reserve['cpu_millicores']}m CPU, {reserve['memory_mib'] // 1024} GiB memory and " \
           f"{reserve['storage_mib'] // 1024} GiB disk" in text
    assert f"at least {round(sizing.NOMINAL['memory_fraction'] * 100)}% of the nominal GiB" in text
    assert f"at least {round(sizing.NOMINAL['disk_fraction'] * 100)}% of its decimal size" in text


# --- through Ansible ------------------------------------------------------------------

# The collection loader must be installed before ansible_collections is first
# imported, which this test module already did; so template in a fresh process.
TEMPLAR_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader([sys.argv[1]])
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    variables = json.loads(sys.argv[2])
    templar = Templar(loader=DataLoader(), variables=variables)
    results = {}
    for key, expression in json.loads(sys.argv[3]).items():
        try:
            results[key] = {"value": templar.template(trust_as_template(expression))}
        except AnsibleError as exc:
            results[key] = {"error": str(exc), "type": type(exc).__name__}
    print(json.dumps(results))
    """
)


def _template(expressions, variables):
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_DIR), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR))
    proc = subprocess.run(
        [sys.executable, "-c", TEMPLAR_SCRIPT, str(COLLECTIONS_DIR), json.dumps(variables), json.dumps(expressions)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_fqcn_filters_through_templar():
    variables = {
        "planned": [{"type": "heavy", "name": "analytics"}, {"type": "database", "name": "historian"}],
        "node": NODE,
        "small": SMALL,
        "site": [NODE, NODE, NODE],
    }
    results = _template(
        {
            "totals": "{{ planned | edgefleet.platform.workload_resources }}",
            "tier": "{{ (12 | edgefleet.platform.node_requirements).tier.name }}",
            "report_ok": "{{ (node | edgefleet.platform.sizing_report(planned)).ok }}",
            "enforced": "{{ (node | edgefleet.platform.enforce_sizing(planned)).node }}",
            "cluster": "{{ (site | edgefleet.platform.cluster_sizing(planned, cluster_name='site-a')).per_node_workloads }}",
            "policy": "{{ ('compliance_logs' | edgefleet.platform.storage_policy).backup }}",
            "bad_type": "{{ [{'type': 'gpu', 'name': 'vision'}] | edgefleet.platform.workload_resources }}",
            "refused": "{{ small | edgefleet.platform.enforce_sizing(planned) }}",
        },
        variables,
    )
    assert results["totals"]["value"] == sizing.workload_resources(variables["planned"])
    assert results["tier"]["value"] == "medium"
    assert results["report_ok"]["value"] is True
    assert results["enforced"]["value"] == "ipc-01"
    assert results["cluster"]["value"] == 1
    assert results["policy"]["value"] == "offsite"
    assert "workloads[0] ('vision'): unknown type 'gpu'" in results["bad_type"]["error"]
    assert "edgefleet.platform.workload_resources" in results["bad_type"]["error"]
    assert "Traceback" not in results["bad_type"]["error"]
    assert "node ipc-02 does not meet the edge sizing guidelines" in results["refused"]["error"]
    assert "node ipc-02: disk type hdd" in results["refused"]["error"]


def test_ad_hoc_debug_shows_the_error_without_traceback():
    ansible = shutil.which("ansible", path=os.path.dirname(sys.executable)) or shutil.which("ansible")
    if not ansible:
        pytest.skip("ansible CLI not found")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    ok = subprocess.run(
        [ansible, "localhost", "-m", "debug", "-a",
         "msg={{ [{'type':'heavy'}] | edgefleet.platform.workload_resources }}"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert '"memory_mib": 256' in ok.stdout
    bad = subprocess.run(
        [ansible, "localhost", "-m", "debug", "-a",
         "msg={{ [{'type':'heavy','count':-1}] | edgefleet.platform.workload_resources }}"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert bad.returncode != 0
    assert "workloads[0]: count must be >= 1, got -1" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
