# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures: a fresh SQLite ZTP database and the import example of the README."""

from __future__ import annotations

import copy
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder


def _collections_root():
    for entry in sys.path:
        if os.path.isdir(os.path.join(entry or ".", "ansible_collections", "edgefleet", "platform")):
            return os.path.abspath(entry or ".")
    raise RuntimeError("put the folder holding ansible_collections/edgefleet/platform on PYTHONPATH (make units does)")


# As ansible-test units does: before any test module imports the collection, let
# Python and Ansible's plugin loader resolve edgefleet.platform.* from that tree.
_AnsibleCollectionFinder(paths=[_collections_root()])._install()

# Property tests judge correctness, not speed: a loaded 2-core CI machine must not fail them.
settings.register_profile("edgefleet", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("edgefleet")

EXAMPLE = {
    "regions": [{"name": "emea"}],
    "sites": [
        {"name": "plant-a", "region": "emea", "topology": "multi_node", "kind": "edge", "connectivity": "intermittent"},
        {"name": "plant-b", "region": "emea", "topology": "single_node", "kind": "edge", "connectivity": "online"},
    ],
    "clusters": [
        {"name": "plant-a-line1", "site": "plant-a", "platform": "k3s",
         "workloads": [{"name": "opcua-gateway", "type": "medium"}, {"name": "historian", "type": "database"}]},
    ],
    "devices": [
        {"serial": "SN-0001", "mac": "00:11:22:33:44:55", "site": "plant-a", "cluster": "plant-a-line1",
         "role": "control", "os_family": "linux", "ip": "192.0.2.10",
         "hardware": {"cpu_cores": 4, "memory_mb": 8192, "disk_gb": 128, "disk_type": "ssd"},
         "labels": {"line": "1"}},
        {"serial": "SN-0002", "mac": "00:11:22:33:44:56", "site": "plant-a", "cluster": "plant-a-line1",
         "role": "worker", "os_family": "linux", "ip": "192.0.2.11"},
        {"serial": "SN-0003", "mac": "00:11:22:33:44:57", "site": "plant-b", "role": "control",
         "os_family": "windows", "ip": "192.0.2.20"},
    ],
}


@pytest.fixture
def example():
    return copy.deepcopy(EXAMPLE)


@pytest.fixture
def db_url(tmp_path):
    return "sqlite:///%s" % (tmp_path / "ztp.db")
