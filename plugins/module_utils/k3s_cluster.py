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
