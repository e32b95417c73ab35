# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rules of the k3s role's ``config.yaml``: which keys K3s knows, which the role owns or forbids,
which must be equal on every server, and which node labels the kubelet accepts.

Pure Python, no I/O, so the rules are unit-tested once and read by the role through filters
(plugins/filter/k3s.py). Sources, per rule:

- Known flags: ``k3s server --help`` / ``k3s agent --help`` of each minor release
  (pkg/cli/cmds/server.go and agent.go of K3s). ``supervisor-port``, ``apiserver-port`` and
  ``apiserver-bind-address`` are fields of K3s's server config filled internally, not flags;
  K3s skips unknown config.yaml keys with only a log line, so an allow-list is the only guard.
- Critical server settings: the K3s server CLI docs' "Critical Configuration Values".
- Labels: the kubelet refuses to start with a ``--node-labels`` key under ``kubernetes.io`` or
  ``k8s.io`` outside its allowed set (the NodeRestriction rules).
"""

from __future__ import annotations

import re
import typing as t

# Flags every K3s subcommand (server and agent) takes, v1.31.
_COMMON_V131 = (
    "config", "debug", "v", "vmodule", "log", "alsologtostderr",
    "data-dir", "node-name", "with-node-id", "node-label", "node-taint",
    "image-credential-provider-bin-dir", "image-credential-provider-config",
    "docker", "container-runtime-endpoint", "default-runtime", "image-service-endpoint",
    "disable-default-registry-endpoint", "pause-image", "snapshotter", "private-registry",
    "node-ip", "node-external-ip", "node-internal-dns", "node-external-dns", "resolv-conf",
    "flannel-iface", "flannel-conf", "flannel-cni-conf", "vpn-auth", "vpn-auth-file",
    "kubelet-arg", "kube-proxy-arg", "protect-kernel-defaults", "selinux", "lb-server-port",
    "airgap-extra-registry", "rootless", "prefer-bundled-bin", "enable-pprof",
    "token", "token-file", "server",
)

_SERVER_V131 = (
    "bind-address", "https-listen-port", "advertise-address", "advertise-port", "tls-san",
    "tls-san-security", "cluster-cidr", "service-cidr", "service-node-port-range", "cluster-dns",
    "cluster-domain", "flannel-backend", "flannel-ipv6-masq", "flannel-external-ip",
    "egress-selector-mode", "servicelb-namespace", "write-kubeconfig", "write-kubeconfig-mode",
    "write-kubeconfig-group", "helm-job-image", "agent-token", "agent-token-file", "cluster-init",
    "cluster-reset", "cluster-reset-restore-path", "kube-apiserver-arg", "etcd-arg",
    "kube-controller-manager-arg", "kube-scheduler-arg", "kube-cloud-controller-manager-arg",
    "datastore-endpoint", "datastore-cafile", "datastore-certfile", "datastore-keyfile",
    "etcd-expose-metrics", "etcd-disable-snapshots", "etcd-snapshot-name",
    "etcd-snapshot-schedule-cron", "etcd-snapshot-retention", "etcd-snapshot-dir",
    "etcd-snapshot-compress", "etcd-s3", "etcd-s3-endpoint", "etcd-s3-endpoint-ca",
    "etcd-s3-skip-ssl-verify", "etcd-s3-access-key", "etcd-s3-secret-key", "etcd-s3-bucket",
    "etcd-s3-region", "etcd-s3-folder", "etcd-s3-proxy", "etcd-s3-config-secret", "etcd-s3-insecure",
    "etcd-s3-timeout", "default-local-storage-path", "disable", "disable-scheduler",
    "disable-cloud-controller", "disable-kube-proxy", "disable-network-policy",
    "disable-helm-controller", "disable-apiserver", "disable-controller-manager", "disable-etcd",
    "embedded-registry", "supervisor-metrics", "system-default-registry", "secrets-encryption",
)

_AGENT_V131 = ("bind-address", "disable-apiserver-lb")

# {minor: {subcommand: flags}}. A new minor gets its own entry, read from its --help.
KNOWN_FLAGS = {
    "v1.31": {
        "server": frozenset(_COMMON_V131 + _SERVER_V131),
        "agent": frozenset(_COMMON_V131 + _AGENT_V131),
    },
}  # type: dict[str, dict[str, frozenset[str]]]

# Keys the role writes itself, and the variable that sets each.
OWNED = {
    "token": "k3s_token (kept in the 0600 token file, never in config.yaml)",
    "token-file": "k3s_token",
    "agent-token": "k3s_token",
    "agent-token-file": "k3s_token",
    "server": "the join plan (a healthy server of the cluster, or the API VIP)",
    "cluster-init": "the join plan (the cluster's first server)",
    "data-dir": "k3s_data_dir",
    "node-name": "k3s_node_name",
    "node-label": "k3s_node_labels",
    "node-taint": "k3s_node_taints",
    "https-listen-port": "k3s_api_port (the join URL, the VIP check and the kubeconfig use it too)",
    "config": "the unit's --config",
}

# Flags of K3s that break what the role relies on, and why.
FORBIDDEN = {
    "write-kubeconfig": "the role reads the admin kubeconfig from /etc/rancher/k3s/k3s.yaml",
    "with-node-id": "the node name would get a random suffix, so the role could not find its node",
    "private-registry": "the role writes /etc/rancher/k3s/registries.yaml from k3s_registries",
    "cluster-reset": "it makes the server forget its peers at every start; run `k3s server --cluster-reset` by hand",
    "disable-etcd": "the role's servers run etcd (agentless or split roles are not supported)",
    "disable-apiserver": "the role's readiness checks and joins need every server's API",
}

# Must be equal on every server of a cluster, or a joining server fails to start.
CRITICAL = (
    "agent-token", "cluster-cidr", "cluster-dns", "cluster-domain", "disable",
    "disable-cloud-controller", "disable-helm-controller", "disable-kube-proxy",
    "disable-network-policy", "egress-selector-mode", "flannel-backend", "flannel-external-ip",
    "flannel-ipv6-masq", "secrets-encryption", "service-cidr",
)

# Label keys under kubernetes.io / k8s.io the kubelet may set on itself.
_KUBELET_LABELS = frozenset((
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
    "beta.kubernetes.io/arch", "beta.kubernetes.io/os",
))
_KUBELET_PREFIXES = ("kubelet.kubernetes.io/", "node.kubernetes.io/")
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def minor(version: str) -> str:
    """'v1.31.4+k3s1' -> 'v1.31'; anything else -> ''."""
    found = re.match(r"^(v\d+\.\d+)\.\d+\+k3s\d+$", str(version))
    return found.group(1) if found else ""


def key_problems(config: t.Mapping[str, t.Any], role: str, version: str) -> list[str]:
    """One sentence per key of the user's config that the role refuses, naming the key."""
    if minor(version) not in KNOWN_FLAGS:
        return ["k3s_version %s: the role knows the flags of K3s %s only (add the minor release's flags to "
                "plugins/module_utils/k3s_config.py)" % (version, ", ".join(sorted(KNOWN_FLAGS)))]
    known = KNOWN_FLAGS[minor(version)].get(role, frozenset())
    problems = []
    for key in sorted(config):
        if key in OWNED:
            problems.append("%s is set by the role (use %s)" % (key, OWNED[key]))
        elif key in FORBIDDEN:
            problems.append("%s is refused: %s" % (key, FORBIDDEN[key]))
        elif key not in known:
            problems.append("%s is not a flag of `k3s %s` in K3s %s (K3s would skip it with only a log line)"
                            % (key, role, minor(version)))
    return problems


def layered_key_problems(layers: t.Mapping[str, t.Mapping[str, t.Any]], role: str, version: str) -> list[str]:
    """Like key_problems for the merge of `layers` ({variable name: config}, in merge order),
    each sentence ending with the variables that set the key."""
    merged = {}  # type: dict[str, t.Any]
    for config in layers.values():
        merged.update(config or {})
    out = []
    for problem in key_problems(merged, role, version):
        key = problem.split(" ", 1)[0]
        where = [name for name, config in layers.items() if key in (config or {})]
        out.append("%s (from %s)" % (problem, ", ".join(where)) if where else problem)
    return out


def _normal(value: t.Any) -> t.Any:
    """Lists compare as sets of strings (K3s merges repeated flags), scalars as strings."""
    if isinstance(value, (list, tuple)):
        return sorted({str(v) for v in value})
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def critical_differences(configs: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[str]:
    """{server: its config} -> one sentence per critical key the servers do not agree on."""
    out = []
    for key in CRITICAL:
        values = {}  # type: dict[str, list[str]]
        for host in sorted(configs):
            shown = repr(_normal(configs[host][key])) if key in configs[host] else "(unset)"
            values.setdefault(shown, []).append(host)
        if len(values) > 1:
            out.append("%s differs: %s" % (key, "; ".join("%s on %s" % (v, ", ".join(h)) for v, h in values.items())))
    return out


def label_problems(labels: t.Mapping[str, t.Any]) -> list[str]:
    """One sentence per node label the kubelet would refuse (or Kubernetes would not store)."""
    out = []
    for key in sorted(labels):
        value = "" if labels[key] is None else str(labels[key])
        prefix, name = key.rpartition("/")[::2]
        if not _NAME.match(name) or (prefix and (len(prefix) > 253 or not _PREFIX.match(prefix))):
            out.append("%s is not a valid label key" % key)
            continue
        if not _VALUE.match(value):
            out.append("%s=%s: the value is not a valid label value" % (key, value))
        namespace = prefix.split(".")
        restricted = prefix in ("kubernetes.io", "k8s.io") or prefix.endswith((".kubernetes.io", ".k8s.io"))
        if restricted and key not in _KUBELET_LABELS and not key.startswith(_KUBELET_PREFIXES):
            out.append("%s is under %s, which the kubelet may not set on itself: it would not start"
                       % (key, ".".join(namespace[-2:])))
    return out


def help_flags(text: str) -> frozenset[str]:
    """The flag names (aliases too, without dashes) in the OPTIONS of ``k3s server --help`` or
    ``k3s agent --help`` (urfave/cli: ``   --name value, -n value   (group) text``)."""
    names = set()
    for line in str(text).splitlines():
        if not re.match(r"^\s+-", line):
            continue
        column = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        for alias in column.split(", "):
            name = alias.strip().lstrip("-").split(" ", 1)[0].split("=", 1)[0]
            if name and name not in ("help", "h"):
                names.add(name)
    return frozenset(names)


def help_problems(text: str, role: str, version: str) -> list[str]:
    """The flags the allow-list of `version`'s minor release lets through for `role` that the
    binary's own --help does not list (each would be skipped by K3s with a log line)."""
    known = KNOWN_FLAGS.get(minor(version), {}).get(role)
    if known is None:
        return ["the role knows no flags of `k3s %s` in K3s %s" % (role, minor(version) or version)]
    shown = help_flags(text)
    if not shown:
        return ["no flags found in the help text of `k3s %s`" % role]
    return ["%s is allowed for `k3s %s` %s but not in its --help" % (key, role, minor(version))
            for key in sorted(known - shown)]
