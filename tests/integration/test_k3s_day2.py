# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k3s role's day 2 playbooks refuse what would cost a cluster its etcd quorum before
anything changes. Run against this machine (local connection) with an inventory of one
cluster; every case stops in the first (planning) play."""

from __future__ import annotations

import json
import os

from ansible_collections.edgefleet.platform.tests.integration.helpers import HERE, run

PLAYBOOKS = os.path.join(HERE, "..", "..", "playbooks")


def inventory(tmp_path, hosts):
    host_vars = dict((name, {"ansible_connection": "local", "ztp_site": "plant-1", "ztp_cluster": "line-1",
                             "ztp_role": role}) for name, role in hosts.items())
    data = {"all": {"hosts": host_vars, "children": {"os_linux": {"hosts": dict.fromkeys(hosts, {})},
                                                     "cluster_line_1": {"hosts": dict.fromkeys(hosts, {})}}}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_reset_of_two_of_three_servers_is_refused_before_anything_changes(tmp_path, ansible_env):
    inv = inventory(tmp_path, {"ipc-1": "control", "ipc-2": "control", "ipc-3": "control", "ipc-4": "worker"})
    proc = run(["ansible-playbook", "-i", inv, os.path.join(PLAYBOOKS, "reset.yml"), "--limit", "ipc-1,ipc-2",
                "-e", "k3s_reset_confirm=true", "-e", "k3s_kubeconfig_dest=%s" % (tmp_path / "kube")], ansible_env,
               check=False)
    out = proc.stdout + proc.stderr
    flat = " ".join(out.split())
    assert proc.returncode != 0
    for host in ("ipc-1", "ipc-2"):
        assert ("cluster line-1 (host %s): resetting ipc-1, ipc-2 would leave ipc-3, 1 of 3 servers: less than a "
                "majority, so etcd would lose quorum" % host) in flat, out[-3000:]
    assert "Reset | servers, one at a time" not in out
    assert "Remove K3s" not in out
