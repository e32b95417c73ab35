# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""K3s filters; the rules live in module_utils (k3s_release, k3s_config, k3s_cluster).

Documentation: one <filter>.yml next to this plugin per filter.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.module_utils import k3s_cluster, k3s_config, k3s_release


def k3s_checksums(text: t.Any, source: str = "checksum file") -> dict[str, str]:
    """{file name: sha256} from the text of a K3s release's sha256sum-<arch>.txt."""
    try:
        return k3s_release.parse_checksums(text, source)
    except k3s_release.ChecksumFileError as exc:
        # Ansible prefixes the filter name; chaining would repeat the message.
        raise AnsibleFilterError(str(exc)) from None


def _mapping(value: t.Any, what: str) -> t.Mapping[str, t.Any]:
    if not isinstance(value, t.Mapping):
        raise AnsibleFilterError("%s must be a mapping, got %s" % (what, type(value).__name__))
    return value


def k3s_config_problems(layers: t.Any, role: str, version: str) -> list[str]:
    """Keys of config.yaml the role refuses, each with the reason and the variables setting it.

    layers: {variable name: config mapping}, merged in this order (later wins)."""
    mapping = _mapping(layers, "the config layers")
    return k3s_config.layered_key_problems({n: _mapping(c or {}, n) for n, c in mapping.items()}, role, version)


def k3s_critical_differences(configs: t.Any) -> list[str]:
    """Critical server settings the servers ({server: config}) disagree on."""
    mapping = _mapping(configs, "the servers' configs")
    return k3s_config.critical_differences({h: _mapping(c, "the config of %s" % h) for h, c in mapping.items()})


def k3s_label_problems(labels: t.Any) -> list[str]:
    """Node labels the kubelet would refuse."""
    return k3s_config.label_problems(_mapping(labels, "the node labels"))


def k3s_etcd_problems(nodes: t.Any, servers: t.Any, leaving: t.Any = ()) -> list[str]:
    """Why a server may not go down now (etcd members missing or not Ready; those leaving may be down)."""
    return k3s_cluster.etcd_problems(_mapping(nodes, "the node list"), list(servers), list(leaving))


def k3s_minor_skip(installed: t.Any, target: t.Any) -> str:
    """Why going from installed to target skips a minor release ('' if it does not)."""
    return k3s_cluster.minor_skip(str(installed), str(target))


def k3s_reset_problem(servers: t.Any, leaving: t.Any) -> str:
    """Why resetting these servers would lose etcd quorum ('' if it would not)."""
    return k3s_cluster.reset_problem(list(servers), list(leaving))


def k3s_node_meta_changes(node: t.Any, labels: t.Any, taints: t.Any, labels_before: t.Any = (),
                          taints_before: t.Any = ()) -> dict[str, list[str]]:
    """kubectl label / taint arguments that bring the node to the asked labels and taints."""
    return k3s_cluster.node_meta_changes(_mapping(node, "the node"), _mapping(labels, "the labels"), list(taints or []),
                                         list(labels_before or []), list(taints_before or []))


def k3s_system_problems(deployments: t.Any, disabled: t.Any = ()) -> list[str]:
    """Why kube-system is not ready ([] when it is)."""
    return k3s_cluster.system_problems(_mapping(deployments, "the deployment list"), disabled)


def k3s_untolerated_taints(taints: t.Any) -> list[str]:
    """The taints that keep K3s's system pods off a node."""
    return k3s_cluster.untolerated_taints([str(x) for x in taints or []])


class FilterModule:
    """K3s filters."""

    def filters(self) -> dict[str, t.Callable]:
        return {
            "k3s_checksums": k3s_checksums,
            "k3s_config_problems": k3s_config_problems,
            "k3s_critical_differences": k3s_critical_differences,
            "k3s_label_problems": k3s_label_problems,
            "k3s_etcd_problems": k3s_etcd_problems,
            "k3s_minor_skip": k3s_minor_skip,
            "k3s_reset_problem": k3s_reset_problem,
            "k3s_node_meta_changes": k3s_node_meta_changes,
            "k3s_system_problems": k3s_system_problems,
            "k3s_untolerated_taints": k3s_untolerated_taints,
        }
