# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config.yaml, label and cluster lifecycle rules of the k3s role (module_utils k3s_config and k3s_cluster)."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import k3s_cluster, k3s_config

V = "v1.31.4+k3s1"


@pytest.mark.parametrize("key", ["write-kubeconfig", "with-node-id", "private-registry", "cluster-reset",
                                 "disable-etcd", "disable-apiserver", "https-listen-port"])
def test_each_forbidden_key_is_refused_naming_it(key):
    problems = k3s_config.key_problems({key: "x", "kubelet-arg": ["max-pods=50"]}, "server", V)
    assert len(problems) == 1 and problems[0].startswith(key + " is "), problems


@pytest.mark.parametrize("key", ["supervisor-port", "apiserver-port", "apiserver-bind-address", "write-kubeconfig-user",
                                 "nonroot-devices", "no-such-flag"])
def test_keys_v131_does_not_have_are_refused(key):
    assert k3s_config.key_problems({key: 1}, "server", V) == [
        "%s is not a flag of `k3s server` in K3s v1.31 (K3s would skip it with only a log line)" % key]


def test_server_only_flags_are_refused_on_agents_and_accepted_on_servers():
    config = {"cluster-cidr": "10.42.0.0/16", "disable": ["traefik"], "kubelet-arg": ["max-pods=50"]}
    assert k3s_config.key_problems(config, "server", V) == []
    assert [p.split(" ")[0] for p in k3s_config.key_problems(config, "agent", V)] == ["cluster-cidr", "disable"]


def test_an_unknown_minor_is_refused_naming_the_known_ones():
    assert k3s_config.key_problems({}, "server", "v1.99.0+k3s1") == [
        "k3s_version v1.99.0+k3s1: the role knows the flags of K3s v1.31 only (add the minor release's flags to "
        "plugins/module_utils/k3s_config.py)"]


def test_layers_name_the_variables_setting_a_key():
    problems = k3s_config.layered_key_problems(
        {"k3s_config_cluster": {"token": "a"}, "k3s_config_group": {}, "k3s_config_host": {"token": "b", "v": 2}}, "server", V)
    assert problems == ["token is set by the role (use k3s_token (kept in the 0600 token file, never in config.yaml))"
                        " (from k3s_config_cluster, k3s_config_host)"]


def test_critical_settings_must_agree_lists_as_sets():
    same = k3s_config.critical_differences({"a": {"disable": ["traefik", "servicelb"], "kubelet-arg": ["x"]},
                                            "b": {"disable": ["servicelb", "traefik"]}})
    assert same == []
    diff = k3s_config.critical_differences({"a": {"flannel-backend": "wireguard-native"}, "b": {}, "c": {}})
    assert diff == ["flannel-backend differs: 'wireguard-native' on a; (unset) on b, c"]


@pytest.mark.parametrize("labels, bad", [
    ({"edgefleet.io/line": "line-7", "kubernetes.io/hostname": "x", "node.kubernetes.io/instance-type": "ipc"}, []),
    ({"node-role.kubernetes.io/worker": "true"}, ["node-role.kubernetes.io/worker is under kubernetes.io"]),
    ({"foo.k8s.io/x": "1"}, ["foo.k8s.io/x is under k8s.io"]),
    ({"edgefleet.io/line": "has space"}, ["edgefleet.io/line=has space: the value is not a valid label value"]),
    ({"-bad": "x"}, ["-bad is not a valid label key"]),
])
def test_labels_the_kubelet_refuses(labels, bad):
    problems = k3s_config.label_problems(labels)
    assert len(problems) == len(bad) and all(p.startswith(b) for p, b in zip(problems, bad)), problems


@pytest.mark.parametrize("installed, target, skips", [
    ("v1.30.6+k3s1", "v1.31.4+k3s1", False), ("v1.31.3+k3s1", "v1.31.4+k3s1", False),
    ("v1.29.9+k3s1", "v1.31.4+k3s1", True), ("v1.31.4+k3s1", "v2.0.0+k3s1", True), ("", "v1.31.4+k3s1", False),
])
def test_a_minor_release_may_not_be_skipped(installed, target, skips):
    reason = k3s_cluster.minor_skip(installed, target)
    assert bool(reason) == skips
    if skips:
        assert "skips a minor release" in reason and installed in reason


def node(name, ready=True, etcd=True):
    labels = {"node-role.kubernetes.io/etcd": "true"} if etcd else {}
    return {"metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_a_server_may_go_down_only_when_every_etcd_member_is_ready():
    servers = ["s1", "s2", "s3"]
    assert k3s_cluster.etcd_problems({"items": [node("s1"), node("s2"), node("s3"), node("a1", etcd=False)]}, servers) == []
    assert k3s_cluster.etcd_problems({"items": [node("s1"), node("s2", ready=False), node("s3")]}, servers) == [
        "etcd member s2 is not Ready"]
    assert k3s_cluster.etcd_problems({"items": [node("s1"), node("s3")]}, servers) == [
        "s2 is a server of the cluster but not a node of it"]


@pytest.mark.parametrize("servers, leaving, refused", [
    (["a", "b", "c"], ["a"], False), (["a", "b", "c"], ["a", "b"], True), (["a", "b", "c"], ["a", "b", "c"], False),
    (["a", "b", "c", "d", "e"], ["a", "b"], False), (["a", "b", "c", "d", "e"], ["a", "b", "c"], True),
    (["a"], ["a"], False), (["a", "b", "c"], [], False),
])
def test_a_reset_keeps_a_majority_of_servers_or_takes_the_whole_cluster(servers, leaving, refused):
    reason = k3s_cluster.reset_problem(servers, leaving)
    assert bool(reason) == refused, reason


def test_a_dead_server_may_leave_while_the_others_are_ready():
    nodes = {"items": [node("s1"), node("s2", ready=False), node("s3")]}
    assert k3s_cluster.etcd_problems(nodes, [], leaving=["s2"]) == []
    assert k3s_cluster.etcd_problems(nodes, [], leaving=["s1"]) == ["etcd member s2 is not Ready"]


def _node(labels, taints=()):
    return {"metadata": {"name": "n", "labels": dict(labels)}, "spec": {"taints": list(taints)}}


def test_node_meta_changes_set_what_differs_and_remove_only_what_the_role_set():
    node = _node({"kubernetes.io/hostname": "n", "edgefleet.io/line": "1", "edgefleet.io/old": "x", "team": "ops"},
                 [{"key": "a", "value": "b", "effect": "NoSchedule"},
                  {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                  {"key": "other", "effect": "NoExecute"}])
    changes = k3s_cluster.node_meta_changes(
        node, {"edgefleet.io/line": "2", "edgefleet.io/new": "y"}, ["c=d:NoExecute", "a=b:NoSchedule"],
        labels_before=["edgefleet.io/line=1", "edgefleet.io/old=x", "edgefleet.io/gone=z"],
        taints_before=["a=b:NoSchedule", "e:PreferNoSchedule", "other:NoExecute"])
    # team (another writer's) and gone (not on the node) are left alone; the node controller's taint too
    assert changes == {"labels": ["edgefleet.io/line=2", "edgefleet.io/new=y", "edgefleet.io/old-"],
                       "taints": ["c=d:NoExecute", "other:NoExecute-"]}


def test_node_meta_changes_are_empty_when_the_node_is_as_asked():
    node = _node({"edgefleet.io/line": "1"}, [{"key": "a", "effect": "NoSchedule"}])
    assert k3s_cluster.node_meta_changes(node, {"edgefleet.io/line": 1}, ["a:NoSchedule"], ["edgefleet.io/line=1"],
                                         ["a:NoSchedule"]) == {"labels": [], "taints": []}
    # a changed value of a taint is set again (--overwrite)
    assert k3s_cluster.node_meta_changes(node, {}, ["a=v:NoSchedule"])["taints"] == ["a=v:NoSchedule"]


def _deployment(name, available, replicas=1):
    return {"metadata": {"name": name}, "spec": {"replicas": replicas}, "status": {"availableReplicas": available}}


def test_system_problems_need_every_packaged_deployment_available():
    ready = {"items": [_deployment(n, 1) for n in ("coredns", "local-path-provisioner", "metrics-server")]}
    assert k3s_cluster.system_problems(ready) == []
    assert k3s_cluster.system_problems({"items": []}) == [
        "deployment coredns is not there yet", "deployment local-path-provisioner is not there yet",
        "deployment metrics-server is not there yet"]
    # an empty list is not ready, unless everything is disabled
    assert k3s_cluster.system_problems({"items": []}, "coredns,local-storage, metrics-server") == []
    partial = {"items": [_deployment("coredns", 0), _deployment("traefik", 1, 2)]}
    assert k3s_cluster.system_problems(partial, ["local-storage", "metrics-server"]) == [
        "deployment coredns: 0 of 1 replicas available", "deployment traefik: 1 of 2 replicas available"]


def test_untolerated_taints_are_those_k3s_system_pods_do_not_tolerate():
    assert k3s_cluster.untolerated_taints([
        "CriticalAddonsOnly=true:NoExecute", "node-role.kubernetes.io/control-plane:NoSchedule",
        "node-role.kubernetes.io/control-plane:NoExecute", "edgefleet.io/dedicated=gateway:NoSchedule",
        "edgefleet.io/soft=x:PreferNoSchedule"]) == [
        "node-role.kubernetes.io/control-plane:NoExecute", "edgefleet.io/dedicated=gateway:NoSchedule"]
