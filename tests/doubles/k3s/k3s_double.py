#!/usr/bin/env python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""K3s TEST DOUBLE for edgefleet.platform's Molecule tests. It is NOT K3s and must never run in production.

The lab cannot download K3s, so the k3s role is tested against this script installed as
/usr/local/bin/k3s (see build_bundle.py and README.md next to it). It reproduces what the role can
observe of K3s: the CLI, config.yaml keys, token files, the kubeconfig, the API's health, version and
node endpoints, cluster membership from real join and heartbeat traffic between the processes, etcd
quorum, cordon and delete, restarts and upgrades. It runs no pods, no containerd and no etcd.

Needs: Python >= 3.11 (stdlib), PyYAML and the openssl CLI. K3S_DOUBLE_ROOT prefixes every absolute
path it reads or writes, so tests can run several nodes on one machine.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

VERSION = "v1.31.4+k3s1"  # build_bundle.py rewrites this line
GO_VERSION = "go1.22.0"
ROOT = os.environ.get("K3S_DOUBLE_ROOT", "").rstrip("/")
# K3s heartbeats and the node monitor's grace period; tests shorten them.
HEARTBEAT = float(os.environ.get("K3S_DOUBLE_HEARTBEAT", "2"))
NOTREADY_AFTER = float(os.environ.get("K3S_DOUBLE_NOTREADY_AFTER", "15"))
JOIN_PATH = "/v1-k3s-double/join"
DEPLOYMENTS_PATH = "/apis/apps/v1/namespaces/kube-system/deployments"
CORDON_PATH = "/v1-k3s-double/cordon"
CONFIGMAP_PATH = re.compile(r"^/api/v1/namespaces/([a-z0-9.-]+)/configmaps/([a-z0-9.-]+)$")
DEFAULT_CONFIG = "/etc/rancher/k3s/config.yaml"
DEFAULT_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
HONOURED_KEYS = {"token-file", "server", "cluster-init", "node-name", "with-node-id", "node-label", "node-taint",
                 "node-ip", "advertise-address", "bind-address", "tls-san", "https-listen-port", "write-kubeconfig-mode",
                 "write-kubeconfig", "data-dir"}
# The kubelet's --node-labels rule: under kubernetes.io / k8s.io only these keys and prefixes.
KUBELET_LABELS = {"kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os", "beta.kubernetes.io/arch",
                  "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
                  "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
                  "topology.kubernetes.io/region", "topology.kubernetes.io/zone"}
KUBELET_PREFIXES = ("kubelet.kubernetes.io/", "node.kubernetes.io/")
# How long after a server starts K3s's packaged deployments (coredns, local-path-provisioner,
# metrics-server) take to become available on a node they may run on (the double runs no pods).
SYSTEM_DELAY = float(os.environ.get("K3S_DOUBLE_SYSTEM_DELAY", "3"))
# K3s's packaged deployments, the `disable` name of each, and the tolerations of their pods
# (manifests/coredns.yaml: CriticalAddonsOnly, and NoSchedule of the control-plane and master roles).
SYSTEM_DEPLOYMENTS = {"coredns": "coredns", "local-path-provisioner": "local-storage", "metrics-server": "metrics-server"}
SYSTEM_TOLERATIONS = [{"key": "CriticalAddonsOnly"},
                      {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                      {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]
LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# etcd's answer when a request needs a quorum it does not have (the apiserver waits for it first).
NO_QUORUM_WAIT = float(os.environ.get("K3S_DOUBLE_NO_QUORUM_WAIT", "2"))


class TokenRefused(Exception):
    """A server refused our token (or its CA did not match the token): K3s logs it and retries."""


class Fatal(Exception):
    """Stops the process with an exit code and a message on stderr."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def host_path(path):
    return ROOT + path if path.startswith("/") else path


def log(level, msg):
    # K3s logs in logrus' text format; journald keeps stderr.
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stderr.write('time="%s" level=%s msg="%s"\n' % (stamp, level, msg.replace('"', "'")))
    sys.stderr.flush()


def iso_now():
    # Microseconds: a restart within the same second must still show a later started-at.
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_atomic(path, data, mode=0o600):
    """Readers (and a crash) see the old or the new file, never half of one; the mode is set before the rename."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data if isinstance(data, bytes) else data.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class _ConfigLoader(yaml.SafeLoader):
    """Integers stay as written: K3s reads `write-kubeconfig-mode: 0644` as mode 0644, YAML 1.1 would give 420."""


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: loader.construct_scalar(node))


def as_list(value):
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class NodeConfig:
    """config.yaml (plus token-file) as the process understood it."""

    def __init__(self, role, config_path, explicit):
        self.role = role
        path = host_path(config_path)
        try:
            with open(path, encoding="utf-8") as handle:
                raw = yaml.load(handle, Loader=_ConfigLoader) or {}
        except FileNotFoundError:
            if explicit:
                raise Fatal("unable to read config file %s: no such file" % config_path)
            raw = {}  # K3s runs on flags alone when the default file is missing
        except yaml.YAMLError as exc:
            raise Fatal("invalid config file %s: %s" % (config_path, exc))
        if not isinstance(raw, dict):
            raise Fatal("invalid config file %s: not a mapping" % config_path)
        if "token" in raw:
            # Contract: the role keeps the token out of config.yaml (0600 token-file only).
            raise Fatal("config key 'token' is refused by the edgefleet k3s test double: use token-file", 2)
        self.keys = sorted(str(k) for k in raw)
        self.data_dir = str(raw.get("data-dir", "/var/lib/rancher/k3s"))
        self.name = str(raw.get("node-name") or socket.gethostname())
        if str(raw.get("with-node-id", False)).lower() == "true":
            self.name += "-" + node_id(self.data_dir)
        self.server_url = str(raw["server"]).rstrip("/") if raw.get("server") else None
        self.cluster_init = str(raw.get("cluster-init", False)).lower() == "true"
        self.node_ip = str(raw["node-ip"]) if raw.get("node-ip") else None
        self.advertise = str(raw["advertise-address"]) if raw.get("advertise-address") else None
        self.bind = str(raw.get("bind-address") or "0.0.0.0")
        self.tls_san = as_list(raw.get("tls-san"))
        self.kubeconfig = str(raw.get("write-kubeconfig") or DEFAULT_KUBECONFIG)
        try:
            self.port = int(str(raw.get("https-listen-port", 6443)))
            self.kubeconfig_mode = int(str(raw.get("write-kubeconfig-mode", "0600")), 8)
        except ValueError as exc:
            raise Fatal("invalid config file %s: %s" % (config_path, exc))
        self.disabled = {d.strip() for item in as_list(raw.get("disable")) for d in str(item).split(",") if d.strip()}
        self.labels = {}
        for item in as_list(raw.get("node-label")):
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise Fatal("invalid node-label %r: expected key=value" % item)
            self.labels[key] = value
        restricted = sorted(k for k in self.labels if k.partition("/")[0].split(".")[-2:] in (["kubernetes", "io"], ["k8s", "io"])
                            and "/" in k and k not in KUBELET_LABELS and not k.startswith(KUBELET_PREFIXES))
        if restricted:
            # what the kubelet says before it exits; K3s's own process then exits too
            raise Fatal("unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: %s; --node-labels in "
                        "the 'kubernetes.io' namespace must begin with an allowed prefix (%s) or be in the specifically "
                        "allowed set (%s)" % (restricted, ", ".join(p.rstrip("/") for p in KUBELET_PREFIXES),
                                              ", ".join(sorted(KUBELET_LABELS))))
        self.taints = []
        for item in as_list(raw.get("node-taint")):
            keyvalue, sep, effect = item.rpartition(":")
            key, value = keyvalue.split("=", 1) if "=" in keyvalue else (keyvalue, "")
            if not sep or not key or effect not in TAINT_EFFECTS:
                raise Fatal("invalid node-taint %r: expected key=value:Effect, Effect one of %s" % (item, ", ".join(TAINT_EFFECTS)))
            taint = {"key": key, "effect": effect}
            if value:
                taint["value"] = value
            self.taints.append(taint)
        self.token = None
        if raw.get("token-file"):
            try:
                with open(host_path(str(raw["token-file"])), encoding="utf-8") as handle:
                    self.token = handle.read().strip()
            except OSError as exc:
                raise Fatal("unable to read token-file %s: %s" % (raw["token-file"], exc.strerror))
            if not self.token:
                raise Fatal("token-file %s is empty" % raw["token-file"])

    def path(self, *parts):
        return host_path(os.path.join(self.data_dir, *parts))

    def address(self):
        """The address other nodes reach this one on (what K3s registers as InternalIP)."""
        if self.advertise or self.node_ip:
            return self.advertise or self.node_ip
        if self.bind not in ("0.0.0.0", "::"):
            return self.bind
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
        finally:
            probe.close()


def node_id(data_dir):
    """with-node-id: a random suffix kept per machine, so the name stays the same across restarts."""
    path = host_path(os.path.join(data_dir, "node-id"))
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        value = secrets.token_hex(4)
        write_atomic(path, value + "\n")
        return value


def ca_hash(ca_cert):
    """The CA hash of a K10 token: sha256 of the cluster CA certificate as served on /cacerts."""
    return hashlib.sha256(ca_cert.encode()).hexdigest()


def split_token(token):
    """(CA hash or None, password) of a plain or secure (K10<hash>::<user>:<password>) token."""
    if token and token.startswith("K10") and "::" in token:
        head, credentials = token.partition("::")[::2]
        return head[3:], credentials.partition(":")[2]
    return None, token


def node_password():
    """K3s ties a node name to a per-machine password; a second machine with the same name is rejected."""
    path = host_path("/etc/rancher/node/password")
    try:
        with open(path, encoding="utf-8") as handle:
            password = handle.read().strip()
    except FileNotFoundError:
        password = secrets.token_hex(16)
        write_atomic(path, password + "\n")
    return hashlib.sha256(password.encode()).hexdigest()


# --- cluster state ------------------------------------------------------------------------------------

def visible(member):
    """A deleted node comes back when it heartbeats again, as a kubelet re-registers its Node."""
    return member["hb"] > member.get("deleted_at", 0.0)


def registration(record):
    """A node's first heartbeat (or its first after a delete) registers it with its labels and taints."""
    out = dict(record)
    out.update(registered=record["hb"], label_revs={k: [v, record["hb"]] for k, v in record["labels"].items()},
               taints_rev=record["hb"], applied_start=record.get("started", 0.0))
    return out


def merge_member(mine, theirs):
    """Last writer wins, separately for what the node reports (heartbeat), what an admin set (cordon,
    delete), each label (registration, a start of the node's process, an admin's PATCH) and the taints
    (registration, PATCH). Stored members carry label_revs; a node's heartbeat record does not."""
    if mine is None:
        return dict(theirs) if "label_revs" in theirs else registration(theirs)
    out = dict(mine if mine["hb"] >= theirs["hb"] else theirs)
    spec = mine if mine.get("spec_rev", 0.0) >= theirs.get("spec_rev", 0.0) else theirs
    out["unschedulable"], out["spec_rev"] = spec.get("unschedulable", False), spec.get("spec_rev", 0.0)
    out["deleted_at"] = max(mine.get("deleted_at", 0.0), theirs.get("deleted_at", 0.0))
    out["created"] = min(mine.get("created", out["hb"]), theirs.get("created", out["hb"]))
    current = [m for m in (mine, theirs) if m.get("registered", m["hb"]) > out["deleted_at"]]
    stored = [m for m in current if "label_revs" in m]
    records = [m for m in current if "label_revs" not in m]
    if not stored:
        if records:  # registered again after a delete: the current labels and taints count
            registered = registration(max(records, key=lambda m: m["hb"]))
            for key in ("registered", "label_revs", "taints", "taints_rev", "applied_start"):
                out[key] = registered[key]
            out["labels"] = dict(registered["labels"])
        return out
    revs = {}
    for member in stored:
        for key, (value, rev) in member["label_revs"].items():
            if key not in revs or rev > revs[key][1]:
                revs[key] = [value, rev]
    taints = max(stored, key=lambda m: m["taints_rev"])
    out["registered"] = min(m["registered"] for m in stored)
    out["taints"], out["taints_rev"] = list(taints["taints"]), taints["taints_rev"]
    out["applied_start"] = max(m["applied_start"] for m in stored)
    # K3s adds node-label entries at every start of the node's process (pkg/agent/run.go,
    # updateMutableLabels: changed and added labels, never a removal); taints stay as registered.
    for record in records:
        if record.get("started", 0.0) > out["applied_start"]:
            for key, value in record["labels"].items():
                revs[key] = [value, record["hb"]]
            out["applied_start"] = record["started"]
    out["label_revs"] = revs
    out["labels"] = {k: v for k, (v, _rev) in revs.items() if v is not None}
    return out


class Store:
    """The node's persistent state: one JSON file, replaced atomically, guarded by one lock."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.RLock()
        self.data = {}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                self.data = json.load(handle)

    def save(self):
        with self.lock:
            write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True))


class Cluster:
    """The member table a server shares with the others (what etcd holds for real K3s)."""

    def __init__(self, store):
        self.store = store

    @property
    def members(self):
        return self.store.data.setdefault("members", {})

    def merge(self, members):
        with self.store.lock:
            for name, member in members.items():
                self.members[name] = merge_member(self.members.get(name), member)

    def visible(self):
        with self.store.lock:
            return {n: dict(m) for n, m in self.members.items() if visible(m)}

    def endpoints(self):
        return sorted(m["endpoint"] for m in self.visible().values() if m.get("endpoint"))

    def etcd_quorum(self, since=0.0):
        """A strict majority of the etcd members is up; `since`: heard from after that time (a
        restarted server does not count on what it heard before it stopped)."""
        if not self.store.data["cluster"]["etcd"]:
            return False
        voters = [m for m in self.visible().values() if m.get("etcd")]
        ready = [m for m in voters if time.time() - m["hb"] <= NOTREADY_AFTER and m["hb"] >= since]
        return len(ready) > len(voters) / 2

    def set_spec(self, name, **changes):
        with self.store.lock:
            member = self.members.get(name)
            if member is None or not visible(member):
                return None
            member.update(changes, spec_rev=time.time())
            self.store.save()
            return dict(member)

    def set_meta(self, name, labels, taints):
        """An admin's PATCH: the changed labels (None removes one) and, if given, the new taints."""
        with self.store.lock:
            member = self.members.get(name)
            if member is None or not visible(member):
                return None
            now = time.time()
            revs = member.setdefault("label_revs", {})
            for key, value in labels.items():
                revs[key] = [value, now]
            member["labels"] = {k: v for k, (v, _rev) in revs.items() if v is not None}
            if taints is not None:
                member["taints"], member["taints_rev"] = taints, now
            self.store.save()
            return dict(member)


def label_problems(labels):
    """The apiserver's validation of label keys and values (qualified names, 63 characters)."""
    problems = []
    for key, value in sorted(labels.items()):
        prefix, name = key.rpartition("/")[::2]
        if not name or len(name) > 63 or not LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix))):
            problems.append('metadata.labels: Invalid value: "%s": name part must consist of alphanumeric characters, '
                            "'-', '_' or '.', and must start and end with an alphanumeric character" % key)
        if len(value) > 63 or not LABEL_NAME.match(value):
            problems.append('metadata.labels: Invalid value: "%s": a valid label must be an empty string or consist of '
                            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                            "character" % value)
    return problems


def taint_problems(taints):
    problems, seen = [], set()
    for taint in taints:
        if not isinstance(taint, dict) or not taint.get("key"):
            problems.append("spec.taints: Required value: a taint needs a key")
            continue
        if taint.get("effect") not in TAINT_EFFECTS:
            problems.append('spec.taints[].effect: Unsupported value: "%s": supported values: "%s"'
                            % (taint.get("effect"), '", "'.join(TAINT_EFFECTS)))
        if (taint["key"], taint.get("effect")) in seen:
            problems.append("spec.taints: Duplicate value: taints must be unique by key and effect pair")
        seen.add((taint["key"], taint.get("effect")))
        problems += [p.replace("metadata.labels", "spec.taints") for p in label_problems({taint["key"]: taint.get("value", "")})]
    return problems


def tolerated(taint):
    return any(t["key"] == taint["key"] and t.get("effect", taint["effect"]) == taint["effect"] for t in SYSTEM_TOLERATIONS)


def system_deployments(server):
    """K3s's packaged deployments in kube-system, as the API reports them. Double-only model, as no pods
    run: each deployment's one pod is placed, SYSTEM_DELAY after this server started, on a Ready,
    schedulable node whose NoSchedule and NoExecute taints it tolerates, as the scheduler would; it stays
    there while that node is Ready and has no NoExecute taint it does not tolerate (a later NoSchedule
    taint does not evict it), else it is placed again."""
    nodes = {m["name"]: node_object(m) for m in server.cluster.visible().values()}

    def ready(name):
        return name in nodes and nodes[name]["status"]["conditions"][0]["status"] == "True"

    def fits(name, placing):
        """A new pod needs a schedulable node and tolerates its NoSchedule and NoExecute taints; a running
        one stays unless a NoExecute taint it does not tolerate evicts it."""
        if not ready(name) or (placing and nodes[name]["spec"].get("unschedulable")):
            return False
        effects = ("NoSchedule", "NoExecute") if placing else ("NoExecute",)
        return all(tolerated(t) for t in nodes[name]["spec"].get("taints", [])
                   if t["effect"] in effects and t["key"] != "node.kubernetes.io/unschedulable")

    created = datetime.datetime.fromtimestamp(server.started, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    items = []
    for name, component in sorted(SYSTEM_DEPLOYMENTS.items()):
        if component in server.cfg.disabled:
            continue
        place = server.placed.get(name)
        if place is not None and not fits(place, placing=False):
            place = None  # evicted, or its node is gone
        if place is None and time.time() - server.started >= SYSTEM_DELAY:
            place = next((n for n in sorted(nodes) if fits(n, placing=True)), None)
        server.placed[name] = place
        up = place is not None
        status = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1}
        if up:
            status.update(readyReplicas=1, availableReplicas=1)
        else:
            status["unavailableReplicas"] = 1
        status["conditions"] = [{"type": "Available", "status": "True" if up else "False",
                                 "reason": "MinimumReplicasAvailable" if up else "MinimumReplicasUnavailable"}]
        items.append({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": name, "namespace": "kube-system", "generation": 1, "creationTimestamp": created},
                      "spec": {"replicas": 1}, "status": status})
    return items


def node_object(member):
    ready = time.time() - member["hb"] <= NOTREADY_AFTER
    created = datetime.datetime.fromtimestamp(member.get("created", member["hb"]), datetime.timezone.utc)
    unschedulable = member.get("unschedulable", False) and member.get("spec_rev", 0.0) > member.get("deleted_at", 0.0)
    taints = list(member["taints"])
    if unschedulable:
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
    if not ready:
        taints.append({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"})
    stamp = datetime.datetime.fromtimestamp(member["hb"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": member["name"],
            "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "labels": member["labels"],
            "annotations": member["annotations"],
        },
        "spec": {"taints": taints, "unschedulable": unschedulable} if taints else {"unschedulable": unschedulable},
        "status": {
            "addresses": member["addresses"],
            "conditions": [{
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
                "lastHeartbeatTime": stamp,
            }],
            "nodeInfo": {"kubeletVersion": member["version"], "kubeProxyVersion": member["version"],
                         "containerRuntimeVersion": "containerd://edgefleet-test-double",
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


# --- TLS ----------------------------------------------------------------------------------------------

def openssl(*args, config=None):
    with tempfile.TemporaryDirectory() as tmp:
        if config is not None:
            cfg = os.path.join(tmp, "openssl.cnf")
            with open(cfg, "w", encoding="utf-8") as handle:
                handle.write(config)
            args = [a.replace("@CFG@", cfg) for a in args]
        result = subprocess.run(("openssl",) + tuple(args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise Fatal("openssl %s failed: %s" % (args[0], result.stderr.strip()))


def new_ca(folder):
    """The cluster CA, made once by the initialising server (its own minimal config: no host openssl.cnf quirks)."""
    config = ("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = k3s-server-ca@%d\n"
              "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,digitalSignature,keyCertSign\n"
              "subjectKeyIdentifier = hash\n" % int(time.time()))
    key, crt = os.path.join(folder, "ca.key"), os.path.join(folder, "ca.crt")
    openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", crt, "-days", "3650", "-config", "@CFG@", "-extensions", "ca", config=config)
    with open(crt, encoding="utf-8") as c, open(key, encoding="utf-8") as k:
        return c.read(), k.read()


def serving_cert(cfg, ca_cert, ca_key):
    """A fresh serving certificate on every start, so SAN changes (tls-san, node-ip) apply at restart as in K3s."""
    names = ["127.0.0.1", "localhost", socket.gethostname(), cfg.name, "kubernetes", "kubernetes.default",
             cfg.address()] + [a for a in (cfg.node_ip, cfg.advertise) if a] + cfg.tls_san
    sans = []
    for name in names:
        try:
            entry = "IP:%s" % ipaddress.ip_address(name)
        except ValueError:
            entry = "DNS:%s" % name
        if entry not in sans:
            sans.append(entry)
    tls = cfg.path("server", "tls")
    os.makedirs(tls, exist_ok=True)
    for name, text in (("server-ca.crt", ca_cert), ("server-ca.key", ca_key)):
        write_atomic(os.path.join(tls, name), text)
    key, csr, crt = (os.path.join(tls, "serving-kube-apiserver." + ext) for ext in ("key", "csr", "crt"))
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", csr, "-config", "@CFG@",
            config="[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = kube-apiserver\n")
    openssl("x509", "-req", "-in", csr, "-CA", os.path.join(tls, "server-ca.crt"), "-CAkey",
            os.path.join(tls, "server-ca.key"), "-set_serial", str(secrets.randbits(63)), "-days", "365",
            "-out", crt, "-extfile", "@CFG@", "-extensions", "srv",
            config="[srv]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                   "extendedKeyUsage = serverAuth\nsubjectAltName = %s\n" % ",".join(sans))
    os.chmod(key, 0o600)
    return crt, key


def client_context(ca_cert):
    if ca_cert is None:
        # First contact: the joiner has no CA yet. Real K3s pins it with the CA hash of a K10 token;
        # the contract's plain tokens carry none, so the token check on the server is the gate.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cadata=ca_cert)


def call(url, method="GET", body=None, token=None, ca_cert=None, timeout=5.0):
    """One HTTPS request; returns (status, parsed JSON or text). Connection errors raise OSError."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        # kubectl label and taint send merge patches; everything else is plain JSON
        request.add_header("Content-Type", "application/merge-patch+json" if method == "PATCH" else "application/json")
    try:
        with urllib.request.urlopen(request, context=client_context(ca_cert), timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except urllib.error.URLError as exc:
        raise OSError(str(exc.reason))
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


# --- the API server -----------------------------------------------------------------------------------

class Api(BaseHTTPRequestHandler):
    """The endpoints of the contract; `self.server.node` is the running ServerNode."""

    protocol_version = "HTTP/1.1"
    timeout = 15

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass  # access logs would drown the journal at one heartbeat per node every 2 s

    def send(self, code, body):
        raw = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def bearer(self):
        header = self.headers.get("Authorization", "")
        return header[7:] if header.startswith("Bearer ") else ""

    def admin(self):
        if hmac.compare_digest(self.bearer().encode(), self.server.node.store.data["cluster"]["admin_token"].encode()):
            return True
        self.send(401, status_body(401, "Unauthorized", "Unauthorized"))
        return False

    def quorum(self):
        """Reads and writes go through etcd: without quorum the apiserver waits, then gives up."""
        node = self.server.node
        if not node.store.data["cluster"]["etcd"] or node.cluster.etcd_quorum():
            return True
        time.sleep(NO_QUORUM_WAIT)
        self.send(504, status_body(504, "Timeout", "etcdserver: request timed out"))
        return False

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}

    def do_GET(self):
        node = self.server.node
        path, query = self.path.split("?", 1) if "?" in self.path else (self.path, "")
        if path == "/cacerts":  # what a joiner fetches before it trusts the server (no auth, as in K3s)
            return self.send(200, node.store.data["cluster"]["ca_cert"])
        if path == "/v1-k3s/server-bootstrap":  # what a joining server fetches, with Basic server:<token password>
            return self.server_bootstrap()
        if not self.admin():  # K3s runs the apiserver with anonymous-auth=false: even /readyz needs credentials
            return None
        if path in ("/readyz", "/livez", "/healthz"):
            etcd = node.store.data["cluster"]["etcd"]
            healthy = not etcd or node.cluster.etcd_quorum() or path != "/readyz"
            checks = ["[+]ping ok", "[+]log ok"] + (["[+]etcd ok" if healthy else "[-]etcd failed: reason withheld"] if etcd else [])
            if "verbose" in query:
                text = "\n".join(checks + ["%s check %s" % (path[1:], "passed" if healthy else "failed")]) + "\n"
            else:
                text = "ok" if healthy else "\n".join(checks) + "\n%s check failed\n" % path[1:]
            return self.send(200 if healthy else 500, text)
        if path == "/readyz/etcd":
            ok = node.cluster.etcd_quorum()
            return self.send(200 if ok else 500, "ok" if ok else "[-]etcd failed: reason withheld\nhealthz check failed\n")
        if path == "/version":
            major, minor = VERSION[1:].split(".")[:2]
            return self.send(200, {"major": major, "minor": minor, "gitVersion": VERSION,
                                   "gitCommit": hashlib.sha1(VERSION.encode()).hexdigest(), "gitTreeState": "clean",
                                   "buildDate": "2026-01-01T00:00:00Z", "goVersion": GO_VERSION,
                                   "compiler": "gc", "platform": "linux/amd64"})
        if path.startswith(DEPLOYMENTS_PATH):
            if not self.quorum():
                return None
            items = system_deployments(node)
            name = path[len(DEPLOYMENTS_PATH):].strip("/")
            if not name:
                return self.send(200, {"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {}, "items": items})
            found = [item for item in items if item["metadata"]["name"] == name]
            if found:
                return self.send(200, found[0])
            return self.send(404, status_body(404, "NotFound", 'deployments.apps "%s" not found' % name))
        if path == "/api/v1/nodes" or path.startswith("/api/v1/nodes/"):
            if not self.quorum():
                return None
            members = node.cluster.visible()
            if path == "/api/v1/nodes":
                items = [node_object(members[n]) for n in sorted(members)]
                return self.send(200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": items})
            name = path[len("/api/v1/nodes/"):]
            if name in members:
                return self.send(200, node_object(members[name]))
            return self.send(404, status_body(404, "NotFound", 'nodes "%s" not found' % name))
        configmap = CONFIGMAP_PATH.match(path)
        if configmap:
            # the double runs no workloads, so it holds no ConfigMaps (no Arc agents wrote azure-clusterconfig)
            if not self.quorum():
                return None
            return self.send(404, status_body(404, "NotFound", 'configmaps "%s" not found' % configmap.group(2)))
        return self.send(404, status_body(404, "NotFound", "the server could not find the requested resource"))

    def server_bootstrap(self):
        """K3s's supervisor answers 401 to a wrong token; the double hands out no bootstrap data (its
        joiners get the CA through JOIN_PATH), only says the credentials were right."""
        header = self.headers.get("Authorization", "")
        user, password = "", ""
        if header.startswith("Basic "):
            try:
                user, password = base64.b64decode(header[6:]).decode().partition(":")[::2]
            except ValueError:
                pass
        token = self.server.node.store.data["cluster"]["token"]
        if user != "server" or not hmac.compare_digest(split_token(password)[1].encode(), token.encode()):
            return self.send(401, status_body(401, "Unauthorized", "Unauthorized"))
        return self.send(200, {})

    def do_PATCH(self):
        """kubectl label / taint: a merge patch of metadata.labels (null removes) and spec.taints (replaced)."""
        node = self.server.node
        if not self.path.startswith("/api/v1/nodes/"):
            return self.send(404, status_body(404, "NotFound", "the server could not find the requested resource"))
        if not self.admin():
            return None
        kind = self.headers.get("Content-Type", "").split(";")[0].strip()
        if kind not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            message = ("the body of the request was in an unknown format - accepted media types include: "
                       "application/merge-patch+json, application/strategic-merge-patch+json")
            return self.send(415, status_body(415, "UnsupportedMediaType", message))
        if not self.quorum():
            return None
        name = self.path[len("/api/v1/nodes/"):]
        member = node.cluster.visible().get(name)
        if member is None:
            return self.send(404, status_body(404, "NotFound", 'nodes "%s" not found' % name))
        patch = self.body()
        changes = {str(k): (None if v is None else str(v))
                   for k, v in ((patch.get("metadata") or {}).get("labels") or {}).items()}
        taints = None
        if "taints" in (patch.get("spec") or {}):
            # node.kubernetes.io/unschedulable and /unreachable are the node controller's, not stored
            taints = [t for t in patch["spec"]["taints"] or []
                      if t.get("key") not in ("node.kubernetes.io/unschedulable", "node.kubernetes.io/unreachable")]
        problems = label_problems({k: v for k, v in changes.items() if v is not None}) + taint_problems(taints or [])
        if problems:
            return self.send(422, status_body(422, "Invalid", 'Node "%s" is invalid: %s' % (name, "; ".join(problems))))
        changed = node.cluster.set_meta(name, changes, taints)
        node.wake.set()
        return self.send(200, node_object(changed))

    def do_DELETE(self):
        node = self.server.node
        if not self.path.startswith("/api/v1/nodes/"):
            return self.send(404, status_body(404, "NotFound", "the server could not find the requested resource"))
        if not self.admin() or not self.quorum():
            return None
        name = self.path[len("/api/v1/nodes/"):]
        if node.cluster.set_spec(name, deleted_at=time.time(), unschedulable=False) is None:
            return self.send(404, status_body(404, "NotFound", 'nodes "%s" not found' % name))
        node.wake.set()  # tell the other servers now rather than at the next heartbeat
        return self.send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                               "details": {"name": name, "kind": "nodes"}})

    def do_POST(self):
        node = self.server.node
        if self.path == CORDON_PATH:
            if not self.admin() or not self.quorum():
                return None
            body = self.body()
            member = node.cluster.set_spec(str(body.get("name")), unschedulable=bool(body.get("unschedulable")))
            if member is None:
                return self.send(404, status_body(404, "NotFound", 'nodes "%s" not found' % body.get("name")))
            node.wake.set()
            return self.send(200, node_object(member))
        if self.path == JOIN_PATH:
            return self.join()
        return self.send(404, status_body(404, "NotFound", "the server could not find the requested resource"))

    def join(self):
        """Join and heartbeat in one: the caller's record is stored, servers also exchange member tables."""
        node = self.server.node
        cluster = node.store.data["cluster"]
        if not hmac.compare_digest(split_token(self.bearer())[1].encode(), cluster["token"].encode()):
            log("warning", "refused a join or heartbeat from %s: token mismatch" % self.client_address[0])
            return self.send(401, {"message": "token mismatch"})
        body = self.body()
        record = body.get("node") or {}
        if not record.get("name"):
            return self.send(400, {"message": "missing node record"})
        if record.get("role") == "server" and not cluster["etcd"]:
            return self.send(409, {"message": "this cluster's datastore is not embedded etcd, so other servers cannot "
                                              "join it: start its first server with cluster-init: true"})
        record["hb"] = time.time()  # the receiving server's clock: one clock for all comparisons
        with node.store.lock:
            known = node.cluster.members.get(record["name"])
            if known and visible(known) and known.get("password") != record.get("password"):
                return self.send(403, {"message": "Node password rejected, duplicate hostname or contents of "
                                                  "'/etc/rancher/node/password' may not match server node-passwd entry"})
            if record.get("role") == "server":
                node.cluster.merge(body.get("members") or {})
            node.cluster.merge({record["name"]: record})
            if known is None or not visible(known):
                log("info", "node %s (%s) joined" % (record["name"], record["role"]))
                node.store.save()
        answer = {"servers": node.cluster.endpoints(), "ca_cert": cluster["ca_cert"], "etcd": cluster["etcd"]}
        if record.get("role") == "server":
            answer.update(ca_key=cluster["ca_key"], admin_token=cluster["admin_token"],
                          members={n: dict(m) for n, m in node.cluster.members.items()})  # tombstones too
        return self.send(200, answer)


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that drop mid-handshake (port probes, wait_for) are not errors worth a traceback


# --- node processes -----------------------------------------------------------------------------------

class Node:
    """What servers and agents share: identity, the heartbeat loop, SIGTERM."""

    def __init__(self, cfg, store):
        self.cfg = cfg
        self.store = store
        self.started_at = iso_now()
        self.started = time.time()
        self.password = node_password()
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.endpoint = None
        self.warned = set()

    def record(self):
        labels = {"kubernetes.io/hostname": self.cfg.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
        etcd = self.cfg.role == "server" and self.store.data["cluster"]["etcd"]
        if self.cfg.role == "server":
            labels["node-role.kubernetes.io/control-plane"] = "true"
            labels["node-role.kubernetes.io/master"] = "true"
            if etcd:
                labels["node-role.kubernetes.io/etcd"] = "true"
        labels.update(self.cfg.labels)
        images = self.cfg.path("agent", "images")
        annotations = {"edgefleet.test/started-at": self.started_at,
                       "edgefleet.test/config-keys": ",".join(self.cfg.keys),
                       "edgefleet.test/airgap-images": ",".join(sorted(os.listdir(images))) if os.path.isdir(images) else "",
                       "k3s.io/node-args": json.dumps([self.cfg.role])}
        return {"name": self.cfg.name, "role": self.cfg.role, "etcd": etcd, "labels": labels, "taints": self.cfg.taints,
                "annotations": annotations, "version": VERSION, "password": self.password, "endpoint": self.endpoint,
                "addresses": [{"type": "InternalIP", "address": self.cfg.address()},
                              {"type": "Hostname", "address": self.cfg.name}],
                "hb": time.time(), "created": time.time(), "started": self.started}

    def join(self, url, members=None):
        """POST our record to one server; returns its answer. Raises Fatal when refused for good,
        TokenRefused when the server refused the token (K3s keeps retrying then)."""
        pinned, password = split_token(self.cfg.token)
        password = self.store.data.get("cluster", {}).get("token") or password
        ca_cert = self.store.data.get("ca_cert")
        if ca_cert is None and pinned:
            # K3s first fetches /cacerts and checks it against the token's CA hash
            status, served = call(url + "/cacerts", timeout=max(2.0, HEARTBEAT))
            if status != 200 or not isinstance(served, str) or not hmac.compare_digest(ca_hash(served), pinned):
                raise TokenRefused("failed to join %s: the server's CA certificate does not match the token's CA hash" % url)
            ca_cert = served
        status, answer = call(url + JOIN_PATH, "POST", {"node": self.record(), "members": members},
                              token=password, ca_cert=ca_cert, timeout=max(2.0, HEARTBEAT))
        message = answer.get("message", "") if isinstance(answer, dict) else str(answer)
        if status == 401:
            raise TokenRefused("failed to join %s: token mismatch (the server refused our token)" % url)
        if status != 200:
            raise Fatal("failed to join %s: %s" % (url, message or "HTTP %d" % status))
        return answer

    def first_join(self):
        """Blocks until a server answers, as K3s retries; a restarted node also tries the servers it knew."""
        candidates = [self.cfg.server_url] + [u for u in self.store.data.get("servers", []) if u != self.cfg.server_url]
        while not self.stop.is_set():
            for url in candidates:
                try:
                    return self.join(url)
                except OSError as exc:
                    log("info", "waiting for %s: %s" % (url, exc))
                except TokenRefused as exc:
                    log("error", "%s; retrying" % exc)  # never exits: the unit stays activating
            self.stop.wait(min(HEARTBEAT, 1.0))
        raise Fatal("stopped before joining", 0)

    def peers(self):
        known = set(self.store.data.get("servers", []))
        if self.cfg.server_url:
            known.add(self.cfg.server_url)
        return sorted(known - {self.endpoint})

    def beat(self):
        for url in self.peers():
            try:
                answer = self.join(url, self.gossip())
            except (OSError, Fatal, TokenRefused) as exc:
                if url not in self.warned:  # one line per outage, not one per heartbeat
                    log("warning", "heartbeat to %s failed: %s" % (url, exc))
                    self.warned.add(url)
                continue
            self.warned.discard(url)
            self.absorb(answer)
        self.store.save()

    def gossip(self):
        return None

    def absorb(self, answer):
        with self.store.lock:
            # The answering server's view replaces ours, so servers that were deleted drop out.
            self.store.data["servers"] = answer["servers"] or self.store.data.get("servers", [])

    def heartbeat_loop(self):
        while not self.stop.is_set():
            try:
                self.beat()
            except Exception as exc:  # a heartbeat must never kill the node
                log("error", "heartbeat: %s" % exc)
            self.wake.wait(HEARTBEAT)
            self.wake.clear()

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        self.start()
        threading.Thread(target=self.heartbeat_loop, daemon=True).start()
        # K3s notifies systemd once the API, and on etcd servers etcd, is up: without quorum, never.
        while not self.ready() and not self.stop.wait(0.2):
            pass
        sd_notify("READY=1")
        log("info", "k3s %s (edgefleet test double) %s %s is up" % (VERSION, self.cfg.role, self.cfg.name))
        while not self.stop.wait(1.0):
            pass
        sd_notify("STOPPING=1")
        self.shutdown()
        log("info", "stopped")

    def start(self):
        raise NotImplementedError

    def ready(self):
        return True

    def shutdown(self):
        self.store.save()


class AgentNode(Node):

    def start(self):
        if not self.cfg.server_url:
            raise Fatal("--server is required for an agent (config key server)")
        if not self.cfg.token:
            raise Fatal("--token is required for an agent (config key token-file)")
        answer = self.first_join()
        with self.store.lock:
            self.store.data["ca_cert"] = answer["ca_cert"]
        self.absorb(answer)
        self.store.save()


class ServerNode(Node):

    def __init__(self, cfg, store):
        super().__init__(cfg, store)
        self.cluster = Cluster(store)
        self.httpd = None
        self.placed = {}  # system deployment -> the node its pod runs on (system_deployments)

    def record(self):
        record = super().record()
        record["created"] = self.store.data.get("created", record["created"])
        return record

    def start(self):
        cfg, data = self.cfg, self.store.data
        self.endpoint = "https://%s:%d" % (cfg.address(), cfg.port)
        if "cluster" in data:
            if cfg.token and not hmac.compare_digest(split_token(cfg.token)[1].encode(), data["cluster"]["token"].encode()):
                raise Fatal("token mismatch: %s was initialised with another token (token-file changed?)" % cfg.data_dir)
            log("info", "starting from existing state in %s" % cfg.data_dir)
        elif cfg.server_url:
            if not cfg.token:
                raise Fatal("--token is required to join a server (config key token-file)")
            data["cluster"] = {"token": split_token(cfg.token)[1], "etcd": True}  # join() needs the token
            # Unlike an agent, a joining server does not retry: K3s's bootstrap (pkg/cluster/bootstrap.go,
            # shouldBootstrapLoad and httpBootstrap) returns the error and the process exits; systemd's
            # Restart=always is what tries again.
            try:
                answer = self.join(cfg.server_url)
            except TokenRefused as exc:
                raise Fatal("starting kubernetes: preparing server: %s" % exc)
            except OSError as exc:
                raise Fatal("starting kubernetes: preparing server: failed to get CA certs: Get \"%s/cacerts\": %s"
                            % (cfg.server_url, exc))
            if not answer.get("etcd"):
                raise Fatal("cannot join %s: it does not run embedded etcd" % cfg.server_url)
            data["cluster"].update(ca_cert=answer["ca_cert"], ca_key=answer["ca_key"], admin_token=answer["admin_token"])
            data["ca_cert"] = answer["ca_cert"]
            self.cluster.merge(answer["members"])
            self.absorb(answer)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                ca_cert, ca_key = new_ca(tmp)
            data["cluster"] = {"token": split_token(cfg.token)[1] if cfg.token else secrets.token_hex(32), "etcd": cfg.cluster_init,
                               "admin_token": secrets.token_hex(32), "ca_cert": ca_cert, "ca_key": ca_key}
            data["ca_cert"] = ca_cert
            log("info", "initialised a new cluster (%s)" % ("embedded etcd" if cfg.cluster_init else "single server datastore"))
        data.setdefault("created", time.time())
        self.store.save()
        cluster = data["cluster"]
        # as K3s writes them: the secure form, which pins the cluster CA for joiners
        secure = "K10%s::server:%s" % (ca_hash(cluster["ca_cert"]), cluster["token"])
        for name in ("node-token", "token"):
            write_atomic(cfg.path("server", name), secure + "\n")
        crt, key = serving_cert(cfg, cluster["ca_cert"], cluster["ca_key"])
        self.cluster.merge({cfg.name: self.record()})
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        try:
            self.httpd = TLSServer((cfg.bind, cfg.port), Api)
        except OSError as exc:
            raise Fatal("unable to listen on %s:%d: %s" % (cfg.bind, cfg.port, exc.strerror))
        # Handshakes happen in the handler threads, so one stuck client cannot block accept().
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.httpd.node = self
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.write_kubeconfig()

    def write_kubeconfig(self):
        cluster = self.store.data["cluster"]
        kubeconfig = {
            "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": "default",
            "clusters": [{"name": "default", "cluster": {
                "server": "https://127.0.0.1:%d" % self.cfg.port,
                "certificate-authority-data": base64.b64encode(cluster["ca_cert"].encode()).decode()}}],
            "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
            "users": [{"name": "default", "user": {"token": cluster["admin_token"]}}],
        }
        write_atomic(host_path(self.cfg.kubeconfig), yaml.safe_dump(kubeconfig, default_flow_style=False),
                     self.cfg.kubeconfig_mode)

    def ready(self):
        return not self.store.data["cluster"]["etcd"] or self.cluster.etcd_quorum(since=self.started)

    def beat(self):
        self.cluster.merge({self.cfg.name: self.record()})
        super().beat()

    def gossip(self):
        with self.store.lock:
            return {n: dict(m) for n, m in self.cluster.members.items()}

    def absorb(self, answer):
        super().absorb(answer)
        self.cluster.merge(answer.get("members") or {})

    def shutdown(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        super().shutdown()


def sd_notify(message):
    """Type=notify units (what the K3s installer writes) wait for READY=1. NOTIFY_SOCKET is systemd's: never prefixed."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode())
        except OSError as exc:
            log("warning", "sd_notify: %s" % exc)


# --- k3s kubectl --------------------------------------------------------------------------------------

# kubectl flags that take a value, in either `--flag value` or `--flag=value` form.
VALUE_FLAGS = {"-o": "output", "--output": "output", "--raw": "raw", "--request-timeout": "request-timeout",
               "--kubeconfig": "kubeconfig", "--timeout": "timeout", "--grace-period": "grace-period",
               "-l": "selector", "--selector": "selector", "-n": "namespace", "--namespace": "namespace"}


def parse_kubectl_args(args):
    """Split kubectl arguments into words and options ({name: value or True})."""
    words, options = [], {}
    args = list(args)
    while args:
        arg = args.pop(0)
        if arg in VALUE_FLAGS:
            if not args:
                raise Fatal("error: flag needs an argument: %s" % arg)
            options[VALUE_FLAGS[arg]] = args.pop(0)
        elif arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            options[name] = value
        elif arg.startswith("-o") and len(arg) > 2:
            options["output"] = arg[2:].lstrip("=")
        elif arg.startswith("-") and len(arg) > 1:
            options[arg.lstrip("-")] = True
        else:
            words.append(arg)
    return words, options


def duration(text):
    """kubectl durations as the role passes them: 5s, 2m, 1h or plain seconds; 0 means no limit."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise Fatal("error: invalid duration %r" % text)
    return value or 30.0


def selected(item, selector):
    """Equality (k=v, k==v, k!=v) and existence (k, !k) label selectors."""
    labels = item["metadata"]["labels"]
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            ok = labels.get(key) != value
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            ok = labels.get(key) == value
        else:
            ok = (term[1:] not in labels) if term.startswith("!") else term in labels
        if not ok:
            return False
    return True


class Kubectl:
    """The kubectl subset the role uses; output and exit codes follow kubectl's."""

    def __init__(self, path, timeout):
        try:
            with open(host_path(path), encoding="utf-8") as handle:
                config = yaml.safe_load(handle)
        except OSError as exc:
            raise Fatal("error: error loading config file \"%s\": %s" % (path, exc.strerror))
        context = next((c["context"] for c in config.get("contexts", []) if c["name"] == config.get("current-context")),
                       config["contexts"][0]["context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self.server = cluster["server"].rstrip("/")
        self.ca_cert = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self.token = user.get("token")
        self.timeout = timeout

    def request(self, path, method="GET", body=None):
        try:
            status, answer = call(self.server + path, method, body, token=self.token, ca_cert=self.ca_cert,
                                  timeout=self.timeout)
        except OSError:
            host = self.server.split("://", 1)[-1]
            raise Fatal("The connection to the server %s was refused - did you specify the right host or port?" % host)
        if status >= 400:
            if isinstance(answer, dict) and answer.get("reason"):
                raise Fatal("Error from server (%s): %s" % (answer["reason"], answer.get("message", "")))
            text = answer.get("message", "") if isinstance(answer, dict) else answer
            raise Fatal("Error from server (InternalError): an error on the server (\"%s\") has prevented the request "
                        "from succeeding" % text.strip())
        return answer

    def get(self, names, options):
        if "raw" in options:
            answer = self.request(options["raw"])
            sys.stdout.write(answer if isinstance(answer, str) else json.dumps(answer) + "\n")
            return 0
        if names and names[0] in ("configmap", "configmaps", "cm"):
            return self.get_configmap(names[1:], options)
        if not names or names[0] not in ("nodes", "node", "no"):
            raise Fatal("error: the edgefleet k3s test double only implements `kubectl get nodes` and "
                        "`kubectl get configmap NAME`")
        if len(names) > 1:
            items = [self.request("/api/v1/nodes/" + names[1])]
        else:
            items = self.request("/api/v1/nodes")["items"]
            items = [item for item in items if selected(item, options.get("selector", ""))]
        output = options.get("output", "")
        if not items and output in ("", "wide", "name"):
            sys.stderr.write("No resources found\n")  # kubectl's words, on stderr, exit 0
        elif output == "json":
            doc = items[0] if len(names) > 1 else {"apiVersion": "v1", "items": items, "kind": "List",
                                                   "metadata": {"resourceVersion": ""}}
            print(json.dumps(doc, indent=4))
        elif output == "name":
            print("\n".join("node/" + item["metadata"]["name"] for item in items))
        elif output in ("", "wide"):
            print(table(items, wide=output == "wide"))
        else:
            raise Fatal("error: unable to match a printer suitable for the output format %r (the double knows json, "
                        "name, wide)" % output)
        return 0

    def get_configmap(self, names, options):
        """`get configmap NAME [-n NS] -o json`: one ConfigMap by name, read from the API as kubectl does."""
        if len(names) != 1 or options.get("output") != "json":
            raise Fatal("error: the edgefleet k3s test double only implements `kubectl get configmap NAME [-n NS] -o json`")
        namespace = options.get("namespace") or "default"
        print(json.dumps(self.request("/api/v1/namespaces/%s/configmaps/%s" % (namespace, names[0])), indent=4))
        return 0

    def cordon(self, name, unschedulable, verb):
        before = self.request("/api/v1/nodes/" + name)
        if bool(before["spec"].get("unschedulable")) == unschedulable:
            print("node/%s already %s" % (name, verb))
        else:
            self.request(CORDON_PATH, "POST", {"name": name, "unschedulable": unschedulable})
            print("node/%s %s" % (name, verb))
        return 0

    def patch(self, name, body):
        return self.request("/api/v1/nodes/" + name, "PATCH", body)

    def label(self, name, changes, overwrite):
        """`kubectl label node NAME k=v k2-`: an existing other value needs --overwrite, as in kubectl."""
        labels = self.request("/api/v1/nodes/" + name)["metadata"]["labels"]
        patch, removed = {}, False
        for change in changes:
            if change.endswith("-") and "=" not in change:
                key = change[:-1]
                if key in labels:
                    patch[key], removed = None, True
                else:
                    print('label "%s" not found.' % key)
                continue
            key, sep, value = change.partition("=")
            if not sep or not key:
                raise Fatal("error: invalid label spec: %s" % change)
            if key in labels and labels[key] != value and not overwrite:
                raise Fatal("error: '%s' already has a value (%s), and --overwrite is false" % (key, labels[key]))
            if labels.get(key) != value:
                patch[key] = value
        if not patch:
            print("node/%s not labeled" % name)
            return 0
        self.patch(name, {"metadata": {"labels": patch}})
        print("node/%s %s" % (name, "unlabeled" if removed and all(v is None for v in patch.values()) else "labeled"))
        return 0

    def taint(self, name, changes, overwrite):
        """`kubectl taint node NAME k=v:Effect k:Effect- k-`, with kubectl's refusals."""
        taints = [t for t in self.request("/api/v1/nodes/" + name)["spec"].get("taints", [])
                  if t["key"] not in ("node.kubernetes.io/unschedulable", "node.kubernetes.io/unreachable")]
        added = removed = False
        for change in changes:
            if change.endswith("-"):
                key, effect = change[:-1].partition(":")[::2]
                keep = [t for t in taints if not (t["key"] == key and effect in ("", t["effect"]))]
                if len(keep) == len(taints):
                    raise Fatal('error: taint "%s" not found' % change[:-1])
                taints, removed = keep, True
                continue
            keyvalue, sep, effect = change.rpartition(":")
            key, value = keyvalue.partition("=")[::2]
            if not sep or not key or effect not in TAINT_EFFECTS:
                raise Fatal("error: invalid taint spec: %s, unknown taint effect or missing key" % change)
            same = [t for t in taints if t["key"] == key and t["effect"] == effect]
            if same and not overwrite:
                raise Fatal("error: node %s already has %s taint(s) with same effect(s) and --overwrite is false" % (name, key))
            taint = dict({"key": key, "effect": effect}, **({"value": value} if value else {}))
            taints = [t for t in taints if t not in same] + [taint]
            added = True
        self.patch(name, {"spec": {"taints": taints}})
        print("node/%s %s" % (name, "modified" if added and removed else "tainted" if added else "untainted"))
        return 0


def age(stamp):
    seconds = int(time.time() - datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % max(seconds, 0)


def table(items, wide=False):
    rows = [["NAME", "STATUS", "ROLES", "AGE", "VERSION"] + (["INTERNAL-IP"] if wide else [])]
    for item in items:
        ready = item["status"]["conditions"][0]["status"] == "True"
        status = ("Ready" if ready else "NotReady") + (",SchedulingDisabled" if item["spec"].get("unschedulable") else "")
        roles = sorted(k.split("/", 1)[1] for k in item["metadata"]["labels"] if k.startswith("node-role.kubernetes.io/"))
        row = [item["metadata"]["name"], status, ",".join(roles) or "<none>", age(item["metadata"]["creationTimestamp"]),
               item["status"]["nodeInfo"]["kubeletVersion"]]
        if wide:
            row.append(next((a["address"] for a in item["status"]["addresses"] if a["type"] == "InternalIP"), "<none>"))
        rows.append(row)
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def kubectl(args):
    words, options = parse_kubectl_args(args)
    if not words:
        raise Fatal("error: the edgefleet k3s test double needs a kubectl command (get, cordon, uncordon, drain, delete)")
    path = options.get("kubeconfig") or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    client = Kubectl(path, duration(str(options.get("request-timeout", "30s"))))
    verb, operands = words[0], words[1:]
    if verb == "get":
        return client.get(operands, options)
    if verb in ("cordon", "uncordon", "drain") and len(operands) == 1:
        status = client.cordon(operands[0], verb != "uncordon", "uncordoned" if verb == "uncordon" else "cordoned")
        if verb == "drain":  # the double runs no pods: nothing to evict
            print("node/%s drained" % operands[0])
        return status
    if verb in ("label", "taint") and len(operands) >= 3 and operands[0] in ("node", "nodes", "no"):
        method = client.label if verb == "label" else client.taint
        return method(operands[1], operands[2:], str(options.get("overwrite", "false")).lower() in ("true", "1"))
    if verb == "delete" and len(operands) == 2 and operands[0] in ("node", "nodes", "no"):
        client.request("/api/v1/nodes/" + operands[1], "DELETE")
        print('node "%s" deleted' % operands[1])
        return 0
    raise Fatal("error: the edgefleet k3s test double does not implement `kubectl %s`" % " ".join(args))


# --- entry point --------------------------------------------------------------------------------------

USAGE = "usage: k3s --version | k3s server|agent [--config FILE] | k3s kubectl ..."


def main(argv, program="k3s"):
    # a multi-call binary, as K3s: the installer's kubectl, crictl and ctr are links to it
    if program == "kubectl":
        return kubectl(argv)
    if program in ("crictl", "ctr"):
        raise Fatal("the edgefleet k3s test double runs no containerd: `%s` is not implemented" % program)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 1
    if argv[0] in ("--version", "-v", "version"):
        print("k3s version %s (edgefleet-test-double)\ngo version %s" % (VERSION, GO_VERSION))
        return 0
    if argv[0] == "kubectl":
        return kubectl(argv[1:])
    if argv[0] not in ("server", "agent"):
        raise Fatal("unknown command %r\n%s" % (argv[0], USAGE))
    config, explicit = DEFAULT_CONFIG, False
    rest = argv[1:]
    while rest:
        arg = rest.pop(0)
        if arg in ("--config", "-c") and rest:
            config, explicit = rest.pop(0), True
        elif arg.startswith("--config="):
            config, explicit = arg.split("=", 1)[1], True
        else:
            raise Fatal("the edgefleet k3s test double takes its settings from config.yaml only, not %r" % arg, 2)
    cfg = NodeConfig(argv[0], config, explicit)
    store_path = cfg.path("server", "db", "edgefleet-double.json") if cfg.role == "server" else \
        cfg.path("agent", "edgefleet-double.json")
    node = (ServerNode if cfg.role == "server" else AgentNode)(cfg, Store(store_path))
    node.run()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:], os.path.basename(sys.argv[0])))
    except Fatal as fatal:
        (sys.stderr.write(str(fatal) + "\n") if str(fatal).startswith(("error:", "Error", "The connection"))
         else log("fatal", str(fatal)))
        sys.exit(fatal.code)
