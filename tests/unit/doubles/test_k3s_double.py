# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The K3s test double (tests/doubles/k3s) as the k3s role's Molecule tests see it.

Every test runs real double processes on 127.0.0.1, each "machine" in its own K3S_DOUBLE_ROOT, with
heartbeats and the NotReady timeout shortened by environment variables. Nothing is faked here:
the node lists come from the processes' join and heartbeat traffic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

REPO = os.environ.get("EDGEFLEET_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DOUBLES = os.path.join(REPO, "tests", "doubles", "k3s")
DOUBLE = os.path.join(DOUBLES, "k3s_double.py")
BUILD_BUNDLE = os.path.join(DOUBLES, "build_bundle.py")
TOKEN = "edgefleet-unit-test-token-0123456789"
FAST = {"K3S_DOUBLE_HEARTBEAT": "0.2", "K3S_DOUBLE_NOTREADY_AFTER": "1.5", "K3S_DOUBLE_NO_QUORUM_WAIT": "0.2"}

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the K3s double needs the openssl CLI")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.1)


class Machine:
    """One node: its own root folder, config.yaml, token file and k3s process."""

    def __init__(self, base, name, config, token=TOKEN, program=DOUBLE):
        self.name = name
        self.root = str(base / name)
        self.program = program
        self.port = int(config.get("https-listen-port", 0)) or None
        self.proc = None
        etc = os.path.join(self.root, "etc", "rancher", "k3s")
        os.makedirs(etc)
        config = dict({"node-name": name, "node-ip": "127.0.0.1", "token-file": "/etc/rancher/k3s/cluster-token"}, **config)
        with open(os.path.join(etc, "config.yaml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle)
        with open(os.path.join(etc, "cluster-token"), "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        os.chmod(os.path.join(etc, "cluster-token"), 0o600)
        self.log = os.path.join(self.root, "k3s.log")

    def env(self, **extra):
        return dict(os.environ, K3S_DOUBLE_ROOT=self.root, **dict(FAST, **extra))

    def path(self, path):
        return self.root + path

    def run(self, *args, timeout=20):
        return subprocess.run([sys.executable, self.program] + list(args), env=self.env(), capture_output=True,
                              text=True, timeout=timeout, check=False)

    def kubectl(self, *args):
        return self.run("kubectl", *args)

    def start(self, role="server", **env):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, self.program, role], env=self.env(**env),
                                         stdout=log, stderr=subprocess.STDOUT)
        if role == "server":
            wait_until(lambda: self.exited() or (os.path.exists(self.path("/etc/rancher/k3s/k3s.yaml"))
                                                 and self.get("/readyz")[0] in (200, 401, 500)), what="%s's API" % self.name)
            assert not self.exited(), self.output()
        return self

    def exited(self):
        return self.proc.poll() is not None

    def output(self):
        with open(self.log, encoding="utf-8") as handle:
            return handle.read()

    def stop(self):
        if self.proc is not None and not self.exited():
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)
        return self.proc.returncode

    def kubeconfig(self):
        with open(self.path("/etc/rancher/k3s/k3s.yaml"), encoding="utf-8") as handle:
            return yaml.safe_load(handle)

    def get(self, path, token=None, method="GET"):
        """HTTPS to this machine's API, verified against the cluster CA once the kubeconfig exists."""
        try:
            ca = base64.b64decode(self.kubeconfig()["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
            ctx = ssl.create_default_context(cadata=ca)
        except OSError:
            ctx = ssl._create_unverified_context()  # pylint: disable=protected-access
        request = urllib.request.Request("https://127.0.0.1:%d%s" % (self.port, path), method=method)
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, context=ctx, timeout=5) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError):
            return None, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()

    def admin_token(self):
        return self.kubeconfig()["users"][0]["user"]["token"]

    def nodes(self):
        status, body = self.get("/api/v1/nodes", self.admin_token())
        assert status == 200, body
        return {item["metadata"]["name"]: item for item in body["items"]}


def ready(node):
    return node["status"]["conditions"][0]["status"] == "True"


@pytest.fixture
def machines(tmp_path):
    made = []

    def make(name, config, **kwargs):
        config = dict(config)
        config.setdefault("https-listen-port", free_port())
        made.append(Machine(tmp_path, name, config, **kwargs))
        return made[-1]

    yield make
    for machine in made:
        if machine.proc is not None and not machine.exited():
            machine.proc.kill()
            machine.proc.wait()


def test_version_output(machines):
    result = machines("cli", {}).run("--version")
    assert result.returncode == 0
    assert result.stdout == "k3s version v1.31.4+k3s1 (edgefleet-test-double)\ngo version go1.22.0\n"


def test_token_key_in_config_is_refused(machines):
    machine = machines("leaky", {"token": "do-not-print-me"})
    result = machine.run("server", timeout=10)
    assert result.returncode == 2
    assert "token-file" in result.stderr
    assert "do-not-print-me" not in result.stdout + result.stderr


def test_single_server(machines):
    server = machines("srv1", {
        "write-kubeconfig-mode": "0644",
        "node-label": ["edgefleet.io/site=plant-b", "edgefleet.io/line=1"],
        "node-taint": ["CriticalAddonsOnly=true:NoExecute"],
        "tls-san": ["k3s.plant-b.example"],
        "disable": ["traefik"],
    }).start()
    ca = base64.b64decode(server.kubeconfig()["clusters"][0]["cluster"]["certificate-authority-data"])
    for name in ("node-token", "token"):
        path = server.path("/var/lib/rancher/k3s/server/" + name)
        assert os.stat(path).st_mode & 0o777 == 0o600
        with open(path, encoding="utf-8") as handle:  # K3s's secure format: K10<CA hash>::server:<password>
            assert handle.read().strip() == "K10%s::server:%s" % (hashlib.sha256(ca).hexdigest(), TOKEN)
    assert os.stat(server.path("/etc/rancher/k3s/k3s.yaml")).st_mode & 0o777 == 0o644
    kubeconfig = server.kubeconfig()
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:%d" % server.port
    assert kubeconfig["users"][0]["name"] == "default"

    admin = server.admin_token()
    assert server.get("/readyz", admin) == (200, "ok")
    status, version = server.get("/version", admin)
    assert status == 200 and version["gitVersion"] == "v1.31.4+k3s1" and (version["major"], version["minor"]) == ("1", "31")
    assert server.get("/readyz/etcd", admin)[0] == 500  # no cluster-init: not etcd
    assert server.get("/api/v1/nodes")[0] == 401
    assert server.get("/api/v1/nodes", TOKEN)[0] == 401  # the join token is not an admin credential

    node = server.nodes()["srv1"]
    labels = node["metadata"]["labels"]
    assert labels["edgefleet.io/site"] == "plant-b" and labels["edgefleet.io/line"] == "1"
    assert labels["node-role.kubernetes.io/control-plane"] == "true"
    assert labels["kubernetes.io/hostname"] == "srv1"
    assert "node-role.kubernetes.io/etcd" not in labels
    assert node["spec"]["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoExecute"}]
    assert node["metadata"]["annotations"]["edgefleet.test/config-keys"] == ",".join(sorted([
        "disable", "https-listen-port", "node-ip", "node-label", "node-name", "node-taint", "tls-san", "token-file",
        "write-kubeconfig-mode"]))
    assert ready(node) and node["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.4+k3s1"

    result = server.kubectl("get", "nodes", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert [item["metadata"]["name"] for item in json.loads(result.stdout)["items"]] == ["srv1"]
    table = server.kubectl("get", "nodes").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert table[1].split()[:3] == ["srv1", "Ready", "control-plane,master"]
    missing = server.kubectl("get", "node", "nope", "-o", "json")
    assert missing.returncode == 1 and 'nodes "nope" not found' in missing.stderr
    # The forms the role's tasks use: --flag=value, and --request-timeout.
    raw = server.kubectl("get", "--raw=/readyz", "--request-timeout=5s")
    assert (raw.returncode, raw.stdout) == (0, "ok")
    one = server.kubectl("get", "node", "srv1", "-o", "json", "--request-timeout=5s")
    assert one.returncode == 0 and json.loads(one.stdout)["metadata"]["name"] == "srv1"
    assert server.kubectl("get", "--raw", "/readyz/etcd").returncode == 1
    assert server.kubectl("get", "nodes", "-l", "edgefleet.io/site=plant-b", "-o", "name").stdout == "node/srv1\n"
    assert server.kubectl("get", "nodes", "-l", "edgefleet.io/site=plant-a", "-o", "name").stdout == ""

    # Without cluster-init the datastore is not etcd: another server cannot join, as with real K3s.
    joiner = machines("srv2", {"server": "https://127.0.0.1:%d" % server.port})
    result = joiner.run("server", timeout=15)
    assert result.returncode == 1 and "cluster-init" in result.stderr
    assert server.stop() == 0


def test_cluster_membership_cordon_delete_notready_quorum(machines):
    first = machines("srv-a", {"cluster-init": True}).start()
    url = "https://127.0.0.1:%d" % first.port
    second = machines("srv-b", {"server": url}).start()
    agent = machines("agent-c", {"server": url, "node-label": ["edgefleet.io/role=worker"]}).start("agent")

    # A wrong token: refused, and the agent keeps retrying as K3s does (its unit never becomes active).
    intruder = machines("agent-x", {"server": url}, token="not-the-cluster-token").start("agent")
    wait_until(lambda: "token mismatch" in intruder.output(), what="the intruder's refusal")
    time.sleep(1)
    assert not intruder.exited() and intruder.output().count("retrying") >= 2
    assert intruder.stop() == 0
    assert "not-the-cluster-token" not in intruder.output() and TOKEN not in intruder.output()

    # Same node name from another machine (another node password): refused as by K3s.
    twin = machines("agent-c-twin", {"server": url, "node-name": "agent-c"})
    result = twin.run("agent", timeout=15)
    assert result.returncode == 1 and "Node password rejected" in result.stderr

    for server in (first, second):
        nodes = wait_until(lambda s=server: len(s.nodes()) == 3 and s.nodes(), what="3 nodes on %s" % server.name)
        assert sorted(nodes) == ["agent-c", "srv-a", "srv-b"]
        assert all(ready(n) for n in nodes.values())
        for name in ("srv-a", "srv-b"):
            assert nodes[name]["metadata"]["labels"]["node-role.kubernetes.io/etcd"] == "true"
            assert nodes[name]["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"
        assert not any(k.startswith("node-role.kubernetes.io/") for k in nodes["agent-c"]["metadata"]["labels"])
        assert nodes["agent-c"]["metadata"]["labels"]["edgefleet.io/role"] == "worker"
    # The joining server shares the first one's CA and admin token: one cluster.
    assert second.kubeconfig()["users"] == first.kubeconfig()["users"]
    admin = first.admin_token()
    assert "agent-x" not in first.nodes()
    assert first.get("/readyz/etcd", admin) == (200, "ok") and "[+]etcd ok" in first.get("/readyz?verbose", admin)[1]

    result = second.kubectl("cordon", "agent-c")
    assert result.returncode == 0 and result.stdout.strip() == "node/agent-c cordoned"
    wait_until(lambda: first.nodes()["agent-c"]["spec"]["unschedulable"], what="cordon to reach srv-a")
    assert "Ready,SchedulingDisabled" in first.kubectl("get", "nodes").stdout
    assert first.kubectl("drain", "agent-c", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s").returncode == 0
    assert first.kubectl("uncordon", "agent-c").stdout.strip() == "node/agent-c uncordoned"
    wait_until(lambda: not second.nodes()["agent-c"]["spec"]["unschedulable"], what="uncordon to reach srv-b")

    # Heartbeats stop: NotReady on both servers after the grace period, then the admin deletes it.
    assert agent.stop() == 0
    for server in (first, second):
        wait_until(lambda s=server: not ready(s.nodes()["agent-c"]), what="agent-c NotReady on %s" % server.name)
    result = first.kubectl("delete", "node", "agent-c")
    assert result.returncode == 0 and result.stdout.strip() == 'node "agent-c" deleted'
    wait_until(lambda: "agent-c" not in second.nodes(), what="delete to reach srv-b")
    assert "agent-c" not in first.nodes()

    # Two etcd members, one stops: no quorum.
    assert second.stop() == 0
    wait_until(lambda: first.get("/readyz/etcd", admin)[0] == 500, what="etcd quorum loss on srv-a")
    assert first.get("/readyz", admin)[0] == 500
    # A restart keeps membership (no `server:` needed any more, state is in data-dir) and quorum returns.
    second.start()
    wait_until(lambda: first.get("/readyz/etcd", admin)[0] == 200, what="etcd quorum back on srv-a")
    assert sorted(second.nodes()) == ["srv-a", "srv-b"]


def build_bundle(version, out):
    result = subprocess.run([sys.executable, BUILD_BUNDLE, "--version", version, "--out", str(out)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return out


def test_bundle_is_deterministic(tmp_path):
    first = build_bundle("v1.31.4+k3s1", tmp_path / "one")
    second = build_bundle("v1.31.4+k3s1", tmp_path / "two")
    newer = build_bundle("v1.32.0+k3s1", tmp_path / "three")
    names = ["k3s", "k3s-airgap-images-amd64.tar.gz", "sha256sum-amd64.txt"]
    assert sorted(os.listdir(first)) == names
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert (first / "k3s").read_bytes() != (newer / "k3s").read_bytes()
    assert os.stat(first / "k3s").st_mode & 0o777 == 0o755
    sums = (first / "sha256sum-amd64.txt").read_text().splitlines()
    assert sums == ["%s  %s" % (hashlib.sha256((first / n).read_bytes()).hexdigest(), n) for n in names[:2]]
    assert (first / "k3s").read_text().startswith("#!/usr/bin/env python3\n")


def test_restart_with_newer_bundle(machines, tmp_path):
    server = machines("upg", {"cluster-init": True})
    binary = server.path("/usr/local/bin/k3s")
    images = server.path("/var/lib/rancher/k3s/agent/images/")
    os.makedirs(os.path.dirname(binary))
    os.makedirs(images)
    for version in ("v1.31.4+k3s1", "v1.32.0+k3s1"):
        bundle = build_bundle(version, tmp_path / version)
        shutil.copy(bundle / "k3s", binary)
        shutil.copy(bundle / "k3s-airgap-images-amd64.tar.gz", images)
    server.program = binary

    shutil.copy(tmp_path / "v1.31.4+k3s1" / "k3s", binary)
    old = server.start().nodes()["upg"]
    assert old["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.4+k3s1"
    assert old["metadata"]["annotations"]["edgefleet.test/airgap-images"] == "k3s-airgap-images-amd64.tar.gz"
    assert server.stop() == 0

    shutil.copy(tmp_path / "v1.32.0+k3s1" / "k3s", binary)
    new = server.start().nodes()["upg"]
    assert new["status"]["nodeInfo"]["kubeletVersion"] == "v1.32.0+k3s1"
    assert server.get("/version", server.admin_token())[1]["gitVersion"] == "v1.32.0+k3s1"
    assert server.run("--version").stdout.startswith("k3s version v1.32.0+k3s1 ")
    assert new["metadata"]["annotations"]["edgefleet.test/started-at"] > old["metadata"]["annotations"]["edgefleet.test/started-at"]
    assert new["metadata"]["creationTimestamp"] == old["metadata"]["creationTimestamp"]  # same node, not a new one


# --- what real K3s does that the role must cope with (issue 15) -----------------------------------------


class NotifySocket:
    """A stand-in for systemd's NOTIFY_SOCKET: collects what the process sends."""

    def __init__(self, folder):
        self.path = str(folder / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)

    def messages(self):
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except OSError:
                return out


def three_servers(machines):
    first = machines("s1", {"cluster-init": True}).start()
    url = "https://127.0.0.1:%d" % first.port
    others = [machines(name, {"server": url}).start() for name in ("s2", "s3")]
    wait_until(lambda: len(first.nodes()) == 3, what="3 servers")
    return [first] + others


def test_ready_is_signalled_only_with_quorum(machines, tmp_path):
    servers = three_servers(machines)
    for server in servers:
        assert server.stop() == 0
    notify = NotifySocket(tmp_path)
    servers[0].start(NOTIFY_SOCKET=notify.path)
    time.sleep(2)
    assert "READY=1" not in notify.messages()  # alone, a cold cluster's server waits for quorum
    servers[1].start()
    wait_until(lambda: "READY=1" in notify.messages(), what="READY=1 once two of three servers are up")


def test_nodes_are_neither_listed_nor_deleted_without_quorum(machines):
    servers = three_servers(machines)
    admin = servers[0].admin_token()
    for server in servers[1:]:
        assert server.stop() == 0
    wait_until(lambda: servers[0].get("/readyz/etcd", admin)[0] == 500, what="quorum loss")
    assert servers[0].get("/api/v1/nodes", admin)[0] == 504
    result = servers[0].kubectl("delete", "node", "s3")
    assert result.returncode == 1 and "etcdserver: request timed out" in result.stderr
    assert servers[0].kubectl("get", "nodes").returncode == 1


def write_config(machine, config):
    with open(machine.path("/etc/rancher/k3s/config.yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(dict({"node-name": machine.name, "node-ip": "127.0.0.1",
                             "token-file": "/etc/rancher/k3s/cluster-token"}, **config), handle)


def test_labels_are_added_at_each_start_and_taints_at_registration_only(machines):
    server = machines("srv", {"cluster-init": True}).start()
    url = "https://127.0.0.1:%d" % server.port
    agent = machines("ag", {"server": url, "node-label": ["edgefleet.io/line=1", "edgefleet.io/old=x"],
                            "node-taint": ["a=b:NoSchedule"]})
    agent.start("agent")
    wait_until(lambda: "ag" in server.nodes(), what="the agent")
    assert agent.stop() == 0
    write_config(agent, {"server": url, "node-label": ["edgefleet.io/line=2"], "node-taint": ["c=d:NoExecute"]})
    agent.start("agent")
    # K3s merges node-label into the node at every start (changed and added labels), never removes one,
    # and leaves the taints as the kubelet registered them
    wait_until(lambda: server.nodes()["ag"]["metadata"]["labels"]["edgefleet.io/line"] == "2", what="the new label")
    node = server.nodes()["ag"]
    assert node["metadata"]["labels"]["edgefleet.io/old"] == "x" and ready(node)
    assert [t["key"] for t in node["spec"]["taints"]] == ["a"]
    time.sleep(1)  # later heartbeats of the same process change nothing
    assert [t["key"] for t in server.nodes()["ag"]["spec"]["taints"]] == ["a"]
    # deleted and registered again: the current labels and taints count
    assert server.kubectl("delete", "node", "ag").returncode == 0
    wait_until(lambda: "edgefleet.io/old" not in server.nodes().get("ag", {}).get("metadata", {}).get("labels", {"edgefleet.io/old": 1}),
               what="re-registration with the new labels")
    assert [t["key"] for t in server.nodes()["ag"]["spec"]["taints"]] == ["c"]


def test_kubectl_label_and_taint_change_a_node_through_the_api(machines):
    servers = three_servers(machines)
    first, second = servers[0], servers[1]
    run = first.kubectl
    assert run("label", "node", "s2", "edgefleet.io/line=1").stdout.strip() == "node/s2 labeled"
    refused = run("label", "node", "s2", "edgefleet.io/line=2")
    assert refused.returncode == 1 and "'edgefleet.io/line' already has a value (1), and --overwrite is false" in refused.stderr
    assert run("label", "node", "s2", "edgefleet.io/line=2", "--overwrite").returncode == 0
    assert run("label", "node", "s2", "edgefleet.io/line=2").stdout.strip() == "node/s2 not labeled"
    wait_until(lambda: second.nodes()["s2"]["metadata"]["labels"].get("edgefleet.io/line") == "2", what="the label on s2")
    assert run("label", "node", "s2", "edgefleet.io/line-").stdout.strip() == "node/s2 unlabeled"
    assert "edgefleet.io/line" not in first.nodes()["s2"]["metadata"]["labels"]
    bad = run("label", "node", "s2", "edgefleet.io/line=not valid")
    assert bad.returncode == 1 and "Error from server (Invalid)" in bad.stderr

    assert run("taint", "node", "s3", "dedicated=edge:NoSchedule").stdout.strip() == "node/s3 tainted"
    again = run("taint", "node", "s3", "dedicated=other:NoSchedule")
    assert again.returncode == 1 and "already has dedicated taint(s) with same effect(s) and --overwrite is false" in again.stderr
    assert run("taint", "node", "s3", "dedicated=other:NoSchedule", "--overwrite").returncode == 0
    assert first.nodes()["s3"]["spec"]["taints"] == [{"key": "dedicated", "value": "other", "effect": "NoSchedule"}]
    assert run("taint", "node", "s3", "dedicated:NoSchedule-").stdout.strip() == "node/s3 untainted"
    missing = run("taint", "node", "s3", "dedicated:NoSchedule-")
    assert missing.returncode == 1 and 'taint "dedicated:NoSchedule" not found' in missing.stderr
    assert run("taint", "node", "s3", "x=y:Sometimes").returncode == 1
    # the admin's change survives the node's heartbeats and a restart of its process (K3s re-adds only
    # its node-label entries)
    assert run("label", "node", "s3", "edgefleet.io/zone=a").returncode == 0
    assert servers[2].stop() == 0
    servers[2].start()
    time.sleep(1)
    assert second.nodes()["s3"]["metadata"]["labels"]["edgefleet.io/zone"] == "a"
    # PATCH needs the admin credential and a merge-patch body
    assert first.get("/api/v1/nodes/s3", TOKEN, method="PATCH")[0] == 401


def test_a_server_with_a_wrong_token_exits_and_an_agent_retries(machines):
    first = machines("w1", {"cluster-init": True}).start()
    url = "https://127.0.0.1:%d" % first.port
    # K3s: the server's bootstrap fails and the process exits (systemd's Restart=always tries again)
    result = machines("w2", {"server": url}, token="not-the-cluster-token").run("server", timeout=15)
    assert result.returncode == 1 and "token mismatch" in result.stderr
    assert "not-the-cluster-token" not in result.stderr + result.stdout
    unreachable = machines("w3", {"server": "https://127.0.0.1:%d" % free_port()}).run("server", timeout=15)
    assert unreachable.returncode == 1 and "failed to get CA certs" in unreachable.stderr
    # what a joining server asks the supervisor for, with Basic server:<password>: 401 for a wrong one

    def bootstrap(password):
        request = urllib.request.Request(url + "/v1-k3s/server-bootstrap")
        request.add_header("Authorization", "Basic " + base64.b64encode(("server:" + password).encode()).decode())
        try:
            with urllib.request.urlopen(request, context=ssl._create_unverified_context(), timeout=5) as answer:  # pylint: disable=protected-access
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code
    assert (bootstrap("not-the-cluster-token"), bootstrap(TOKEN)) == (401, 200)
    # an agent keeps trying in-process (pkg/agent/run.go, createProxyAndValidateToken)
    agent = machines("w4", {"server": url}, token="not-the-cluster-token").start("agent")
    wait_until(lambda: agent.output().count("retrying") >= 2, what="the agent's retries")
    assert not agent.exited() and "w4" not in first.nodes()


def test_kube_system_deployments_are_available_only_where_their_pods_may_run(machines):
    plain = machines("plain", {}).start(K3S_DOUBLE_SYSTEM_DELAY="1")
    admin = plain.admin_token()
    path = "/apis/apps/v1/namespaces/kube-system/deployments"

    def available(machine, token):
        status, body = machine.get(path, token)
        assert status == 200, body
        return {d["metadata"]["name"]: d["status"].get("availableReplicas", 0) == d["spec"]["replicas"] for d in body["items"]}

    assert plain.get(path)[0] == 401
    wait_until(lambda: all(available(plain, admin).values()), what="the system deployments")
    assert sorted(available(plain, admin)) == ["coredns", "local-path-provisioner", "metrics-server"]
    raw = plain.kubectl("get", "--raw=" + path)
    assert raw.returncode == 0 and json.loads(raw.stdout)["kind"] == "DeploymentList"
    # a taint the pods do not tolerate on the only node: nothing can run
    tainted = machines("tainted", {"node-taint": ["dedicated=edge:NoSchedule"], "disable": ["metrics-server"]})
    tainted.start(K3S_DOUBLE_SYSTEM_DELAY="0")
    time.sleep(1)
    assert available(tainted, tainted.admin_token()) == {"coredns": False, "local-path-provisioner": False}
    # CriticalAddonsOnly is tolerated
    critical = machines("critical", {"node-taint": ["CriticalAddonsOnly=true:NoExecute"]}).start(K3S_DOUBLE_SYSTEM_DELAY="0")
    wait_until(lambda: all(available(critical, critical.admin_token()).values()), what="tolerated taint")
    # a NoSchedule taint added later leaves the running pods alone; an untolerated NoExecute one evicts them
    assert plain.kubectl("taint", "node", "plain", "x=y:NoSchedule").returncode == 0
    assert all(available(plain, admin).values())
    assert plain.kubectl("taint", "node", "plain", "x=y:NoExecute").returncode == 0
    assert not any(available(plain, admin).values())
    assert plain.kubectl("taint", "node", "plain", "x-").returncode == 0
    assert all(available(plain, admin).values())
    assert plain.get(path + "/coredns", admin)[1]["metadata"]["name"] == "coredns"
    assert plain.get(path + "/traefik", admin)[0] == 404


def test_labels_the_kubelet_may_not_set_stop_the_node(machines):
    result = machines("bad", {"node-label": ["node-role.kubernetes.io/worker=true"]}).run("server", timeout=15)
    assert result.returncode == 1
    assert "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: ['node-role.kubernetes.io/worker']" \
        in result.stderr
    ok = machines("good", {"node-label": ["node.kubernetes.io/instance-type=ipc", "kubelet.kubernetes.io/x=1"]}).start()
    assert "good" in ok.nodes()


def test_health_endpoints_need_credentials(machines):
    server = machines("auth", {}).start()
    for path in ("/readyz", "/livez", "/healthz", "/version", "/readyz/etcd"):
        assert server.get(path)[0] == 401, path
    assert server.get("/readyz", server.admin_token()) == (200, "ok")
    assert server.get("/readyz", TOKEN)[0] == 401  # the join token is not an API credential


def test_with_node_id_appends_a_stable_suffix(machines):
    server = machines("idn", {"with-node-id": True}).start()
    (name,) = server.nodes()
    assert name.startswith("idn-") and len(name) == len("idn-") + 8
    assert server.stop() == 0
    assert list(server.start().nodes()) == [name]


def test_joins_with_the_secure_token_pin_the_cluster_ca(machines):
    first = machines("k1", {"cluster-init": True}).start()
    with open(first.path("/var/lib/rancher/k3s/server/token"), encoding="utf-8") as handle:
        secure = handle.read().strip()
    url = "https://127.0.0.1:%d" % first.port
    joiner = machines("k2", {"server": url}, token=secure).start()
    assert sorted(joiner.nodes()) == ["k1", "k2"]
    forged = "K10%s::server:%s" % ("0" * 64, TOKEN)  # right password, another CA: refused, retried
    impostor = machines("k3", {"server": url}, token=forged).start("agent")
    wait_until(lambda: "does not match the token's CA hash" in impostor.output(), what="the CA pin to refuse")
    assert not impostor.exited() and "k3" not in first.nodes()


def test_it_answers_as_kubectl_through_a_link_as_k3s_does(machines, tmp_path):
    server = machines("multi", {}).start()
    link = tmp_path / "kubectl"
    os.symlink(DOUBLE, link)
    result = subprocess.run([sys.executable, str(link), "get", "nodes", "-o", "name"], env=server.env(),
                            capture_output=True, text=True, timeout=20, check=False)
    assert (result.returncode, result.stdout) == (0, "node/multi\n"), result.stderr


def test_configmaps_are_not_found_as_kubectl_says(machines):
    # the double runs no workloads (no Arc agents): the arc_connect role's read of azure-arc/azure-clusterconfig
    # gets kubectl's own NotFound, from the API server with the admin token, as on a cluster never onboarded
    server = machines("cm", {}).start()
    result = server.kubectl("get", "configmap", "azure-clusterconfig", "-n", "azure-arc", "-o", "json")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == 'Error from server (NotFound): configmaps "azure-clusterconfig" not found\n'
    assert server.kubectl("get", "cm", "kube-root-ca.crt", "--namespace=default", "-o", "json").returncode == 1
    assert server.get("/api/v1/namespaces/azure-arc/configmaps/azure-clusterconfig")[0] == 401
    status, body = server.get("/api/v1/namespaces/azure-arc/configmaps/azure-clusterconfig", server.admin_token())
    assert status == 404 and body["reason"] == "NotFound" and body["code"] == 404
    # what it does not implement it says, rather than answer something kubectl would not
    listing = server.kubectl("get", "configmaps", "-n", "azure-arc")
    assert listing.returncode == 1 and "only implements" in listing.stderr
    server.stop()
    down = server.kubectl("get", "configmap", "azure-clusterconfig", "-n", "azure-arc", "-o", "json")
    assert down.returncode == 1 and "was refused" in down.stderr
