# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lifecycle rules of a K3s cluster with embedded etcd: when a server may go down (upgrade),
which servers may leave (reset), which version step is allowed.

Pure Python, no I/O; the k3s role reads them through filters (plugins/filter/k3s.py).
etcd keeps working while a strict majority of its members is up, so a server may go down
only when every member is healthy (one already down plus this one is two) and may leave
the cluster for good only while the servers that stay still form a majority.
"""

from __future__ import annotations

import re
import typing as t

_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)\+k3s(\d+)$")
ETCD_LABEL = "node-role.kubernetes.io/etcd"


def parse_version(version: str) -> tuple[int, int, int, int] | None:
    found = _VERSION.match(str(version))
    return tuple(int(g) for g in found.groups()) if found else None  # type: ignore[return-value]


def minor_skip(installed: str, target: str) -> str:
    """'' when going from `installed` to `target` does not skip a minor release, else why.

    The K3s manual upgrade docs: upgrade one minor release at a time (v1.30 -> v1.31 -> v1.32).
    """
    have, want = parse_version(installed), parse_version(target)
    if have is None or want is None:
        return ""
    if want[0] != have[0] or want[1] - have[1] > 1:
        return ("%s -> %s skips a minor release: K3s (and Kubernetes) upgrade one minor at a time; "
                "upgrade to v%d.%d.x first" % (installed, target, have[0], have[1] + 1))
    return ""


def _ready(node: t.Mapping[str, t.Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def etcd_problems(nodes: t.Mapping[str, t.Any], servers: t.Sequence[str], leaving: t.Sequence[str] = ()) -> list[str]:
    """What keeps a server from going down: from a NodeList (kubectl get nodes -o json) and the
    names of the cluster's servers, one sentence per etcd member (or server) that is not healthy.
    Members in `leaving` (a dead server being removed) need not be Ready."""
    items = {i["metadata"]["name"]: i for i in (nodes or {}).get("items") or []}
    members = sorted(n for n, i in items.items() if (i["metadata"].get("labels") or {}).get(ETCD_LABEL) == "true")
    out = ["%s is a server of the cluster but not a node of it" % s for s in sorted(servers) if s not in items]
    out += ["%s is a server but not an etcd member" % s for s in sorted(servers) if s in items and s not in members]
    out += ["etcd member %s is not Ready" % m for m in members if m not in leaving and not _ready(items[m])]
    return out


def reset_problem(servers: t.Sequence[str], leaving: t.Sequence[str]) -> str:
    """'' when the `leaving` servers may be reset, else why: the whole cluster goes, or the
    servers that stay are a strict majority of today's servers (they keep etcd's quorum while
    the others leave one at a time)."""
    all_servers, gone = set(servers), set(leaving) & set(servers)
    staying = all_servers - gone
    if not gone or not staying or len(staying) > len(all_servers) / 2:
        return ""
    return ("resetting %s would leave %s, %d of %d servers: less than a majority, so etcd would lose quorum "
            "while they leave. Reset fewer servers (one at a time keeps quorum), or the whole cluster"
            % (", ".join(sorted(gone)), ", ".join(sorted(staying)), len(staying), len(all_servers)))


# K3s's packaged deployments in kube-system and the `disable` name of each (manifests/ of K3s).
SYSTEM_DEPLOYMENTS = {"coredns": "coredns", "local-path-provisioner": "local-storage", "metrics-server": "metrics-server"}
# What K3s's packaged system pods tolerate (manifests/coredns.yaml): (key, effect), '' = any effect.
SYSTEM_TOLERATIONS = (("CriticalAddonsOnly", ""), ("node-role.kubernetes.io/control-plane", "NoSchedule"),
                      ("node-role.kubernetes.io/master", "NoSchedule"))
# Taints the node controller sets; they are never the role's to add or remove.
_SYSTEM_TAINT_PREFIX = "node.kubernetes.io/"


def parse_taint(text: str) -> dict[str, str]:
    """'key=value:Effect' (or 'key:Effect') -> {'key', 'value', 'effect'}."""
    keyvalue, effect = str(text).rpartition(":")[::2]
    key, value = keyvalue.partition("=")[::2]
    return {"key": key, "value": value, "effect": effect}


def _taint_text(taint: t.Mapping[str, t.Any]) -> str:
    value = taint.get("value") or ""
    return "%s%s:%s" % (taint["key"], "=" + value if value else "", taint["effect"])


def node_meta_changes(node: t.Mapping[str, t.Any], labels: t.Mapping[str, t.Any], taints: t.Sequence[str],
                      labels_before: t.Sequence[str] = (), taints_before: t.Sequence[str] = ()) -> dict[str, list[str]]:
    """The `kubectl label --overwrite` and `kubectl taint --overwrite` arguments that bring a Node
    (kubectl get node NAME -o json) to the asked labels and taints.

    K3s merges node-label into the node at each start but never removes a label
    (pkg/agent/run.go, updateMutableLabels), and the kubelet sets node-taint only when the node
    registers; so a label dropped from the inventory, and every taint change, reach a registered node
    only through the API. What the role removes is what it set before (the node's previous
    config.yaml: labels_before as 'k=v', taints_before as 'k=v:Effect'), never another writer's."""
    have_labels = (node.get("metadata") or {}).get("labels") or {}
    have_taints = [x for x in (node.get("spec") or {}).get("taints") or [] if not x["key"].startswith(_SYSTEM_TAINT_PREFIX)]
    wanted_labels = {str(k): str(v) for k, v in labels.items()}
    label_args = ["%s=%s" % (k, v) for k, v in sorted(wanted_labels.items()) if have_labels.get(k) != v]
    dropped = sorted({str(x).partition("=")[0] for x in labels_before} - set(wanted_labels))
    label_args += ["%s-" % k for k in dropped if k in have_labels]

    wanted = [parse_taint(x) for x in taints]
    have = {(x["key"], x["effect"]): x.get("value") or "" for x in have_taints}
    taint_args = [_taint_text(x) for x in wanted if have.get((x["key"], x["effect"])) != x["value"]]
    wanted_pairs = {(x["key"], x["effect"]) for x in wanted}
    old_pairs = sorted({(x["key"], x["effect"]) for x in map(parse_taint, taints_before)} - wanted_pairs)
    taint_args += ["%s:%s-" % pair for pair in old_pairs if pair in have]
    return {"labels": label_args, "taints": taint_args}


def system_problems(deployments: t.Mapping[str, t.Any], disabled: t.Any = ()) -> list[str]:
    """Why kube-system is not ready yet, from its DeploymentList (GET
    /apis/apps/v1/namespaces/kube-system/deployments): each of K3s's packaged deployments that is
    not disabled must exist, and every deployment there must have all its replicas available."""
    if isinstance(disabled, str):
        disabled = disabled.split(",")
    off = {str(d).strip() for item in disabled or () for d in str(item).split(",")}
    items = {i["metadata"]["name"]: i for i in (deployments or {}).get("items") or []}
    out = ["deployment %s is not there yet" % name for name, component in sorted(SYSTEM_DEPLOYMENTS.items())
           if component not in off and name not in items]
    for name, item in sorted(items.items()):
        wanted = int((item.get("spec") or {}).get("replicas", 1))
        available = int((item.get("status") or {}).get("availableReplicas") or 0)
        if available < wanted:
            out.append("deployment %s: %d of %d replicas available" % (name, available, wanted))
    return out


def untolerated_taints(taints: t.Sequence[str]) -> list[str]:
    """The taints ('key=value:Effect') that keep K3s's system pods (CoreDNS, local-path-provisioner,
    metrics-server) off a node: NoSchedule and NoExecute ones their tolerations do not cover."""
    out = []
    for text in taints:
        taint = parse_taint(text)
        if taint["effect"] not in ("NoSchedule", "NoExecute"):
            continue
        if not any(taint["key"] == key and effect in ("", taint["effect"]) for key, effect in SYSTEM_TOLERATIONS):
            out.append(str(text))
    return out
