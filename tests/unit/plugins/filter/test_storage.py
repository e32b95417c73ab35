# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage filters: each documented, the rules' refusals as filter errors, and
the FQCNs through Ansible's templating."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.filter.storage import FilterModule
from ansible_collections.edgefleet.platform.plugins.module_utils import storage
from ansible_collections.edgefleet.platform.tests.unit.plugins.filter.test_sizing import _template

FILTER_DIR = Path(storage.__file__).resolve().parents[1] / "filter"
NODE = {"inventory_hostname": "ipc0", "ztp_cluster": "line1", "ztp_topology": "multi_node", "ztp_cpu_cores": 4}


@pytest.fixture(scope="module")
def filters():
    return FilterModule().filters()


def test_every_filter_is_documented(filters):
    for name in filters:
        doc = yaml.safe_load((FILTER_DIR / (name + ".yml")).read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert all(isinstance(line, str) for line in doc["DOCUMENTATION"]["description"])


def test_refusals_are_filter_errors(filters):
    with pytest.raises(AnsibleFilterError, match="rook_ceph needs at least 3 storage nodes"):
        filters["storage_plan"]([dict(NODE, edgefleet_storage_engine="rook_ceph")])
    with pytest.raises(AnsibleFilterError, match="one lsblk output per disk record"):
        filters["storage_disk_actions"]([], [{"id": "x"}], "longhorn")
    with pytest.raises(AnsibleFilterError, match="not a /dev/disk/by-id/ name"):
        filters["storage_disk_records"](["/dev/sdb"], "ipc0")
    with pytest.raises(AnsibleFilterError, match="kernel release"):
        filters["storage_kernel_check"]("linux", "longhorn")


def test_filters_through_templating():
    results = _template({
        "replicas": "{{ (nodes | edgefleet.platform.storage_plan('line1')).longhorn_values.persistence.defaultClassReplicaCount }}",
        "start": "{{ (facts | edgefleet.platform.storage_host_prereqs('longhorn')).start }}",
        "stop": "{{ ('' | edgefleet.platform.storage_multipath_plan(true)).stop }}",
        "refused": "{{ [rook] | edgefleet.platform.storage_plan }}",
    }, {"nodes": [NODE, dict(NODE, inventory_hostname="ipc1")], "rook": dict(NODE, edgefleet_storage_engine="rook_ceph"),
        "facts": {"virtualization_role": "guest", "virtualization_type": "podman"}})
    assert results["replicas"]["value"] == 2
    assert results["start"]["value"] == []
    assert results["stop"]["value"] is True
    assert "cluster line1: rook_ceph needs at least 3 storage nodes" in results["refused"]["error"]
    assert "Traceback" not in results["refused"]["error"]
