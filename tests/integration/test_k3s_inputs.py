# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k3s role refuses bad input with an error naming the host and the setting, before it
changes anything. Run in check mode against this machine (local connection): every case
stops in the role's checks, so nothing is installed or written here."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

from ansible_collections.edgefleet.platform.tests.integration.helpers import HERE, run

BUILD_BUNDLE = os.path.join(HERE, "..", "doubles", "k3s", "build_bundle.py")
PLAYBOOK = """
- name: K3s
  hosts: all
  gather_facts: false
  roles:
    - role: edgefleet.platform.k3s
"""


def converge(tmp_path, env, hosts, extra, host_vars=None):
    """Run the role in check mode on `hosts` (name -> ztp_role), all local, with extra vars (and host vars)."""
    inventory = {"all": {"hosts": dict(
        (name, dict({"ansible_connection": "local", "ztp_site": "plant-1", "ztp_cluster": "line-1", "ztp_role": role},
                    **(host_vars or {}).get(name, {})))
        for name, role in hosts.items())}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "extra.json").write_text(json.dumps(dict({"k3s_kubeconfig_dest": str(tmp_path / "kube")}, **extra)))
    proc = run(["ansible-playbook", "--check", "-i", str(tmp_path / "inventory.json"), str(tmp_path / "site.yml"),
                "-e", "@" + str(tmp_path / "extra.json")], env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("extra, expected", [
    ({"k3s_config_host": {"no-such-flag": True}},
     ["host ipc-1: config key(s) refused: no-such-flag is not a flag of `k3s server` in K3s v1.31",
      "(from k3s_config_host)"]),
    ({"k3s_config_host": {"supervisor-port": 9345}},
     ["supervisor-port is not a flag of `k3s server` in K3s v1.31 (K3s would skip it with only a log line)"]),
    ({"k3s_config_cluster": {"token": "in-config-yaml", "write-kubeconfig-mode": "0600"}},
     ["host ipc-1: config key(s) refused: token is set by the role (use k3s_token", "(from k3s_config_cluster)"]),
    ({"k3s_config_group": {"kubelet-arg": ["max-pods=50"]}, "k3s_config_host": {"cluster-init": True}},
     ["cluster-init is set by the role (use the join plan", "(from k3s_config_host)"]),
    ({"k3s_node_labels": {"node-role.kubernetes.io/worker": "true"}},
     ["host ipc-1: node label(s) refused (k3s_node_labels): node-role.kubernetes.io/worker is under kubernetes.io"]),
    ({"k3s_version": "1.31.4"}, ["host ipc-1:", "a k3s_version like v1.31.4+k3s1", "got 1.31.4"]),
    ({"k3s_version": "v1.99.0+k3s1"}, ["host ipc-1: config key(s) refused: k3s_version v1.99.0+k3s1: the role knows the "
                                       "flags of K3s v1.31 only"]),
    ({"k3s_artifact_source": "bundle"}, ["host ipc-1: k3s_artifact_source must be online, bundle (with k3s_bundle_dir"]),
    ({"k3s_service_limits": {"ExecStartPre": "/bin/true"}},
     ["host ipc-1: k3s_service_limits holds ExecStartPre, which are not resource directives"]),
])
def test_bad_settings_are_refused_naming_host_and_setting(tmp_path, ansible_env, extra, expected):
    rc, out = converge(tmp_path, ansible_env, {"ipc-1": "control"}, extra)
    assert rc != 0, out
    for text in expected:
        assert text in " ".join(out.split()), (text, out[-3000:])
    assert "Write the token file" not in out


@pytest.mark.parametrize("key, reason", [
    ("write-kubeconfig", "the role reads the admin kubeconfig"), ("with-node-id", "random suffix"),
    ("private-registry", "registries.yaml from k3s_registries"), ("cluster-reset", "forget its peers"),
    ("disable-etcd", "run etcd"), ("disable-apiserver", "every server's API"),
    ("https-listen-port", "is set by the role (use k3s_api_port"),
])
def test_each_forbidden_key_is_refused_naming_it(tmp_path, ansible_env, key, reason):
    rc, out = converge(tmp_path, ansible_env, {"ipc-1": "control"}, {"k3s_config_group": {key: "7443"}})
    assert rc != 0
    flat = " ".join(out.split())
    assert "host ipc-1: config key(s) refused: %s " % key in flat and reason in flat, out[-3000:]
    assert "(from k3s_config_group)" in flat
    assert "Write the token file" not in out


def test_servers_that_disagree_on_a_critical_setting_are_refused(tmp_path, ansible_env):
    rc, out = converge(tmp_path, ansible_env, {"ipc-1": "control", "ipc-2": "control", "ipc-3": "control"}, {},
                       host_vars={"ipc-2": {"k3s_config_host": {"flannel-backend": "wireguard-native"}}})
    assert rc != 0
    flat = " ".join(out.split())
    assert "cluster line-1 (host ipc-1): K3s needs these settings equal on every server" in flat, out[-3000:]
    assert "flannel-backend differs: (unset) on ipc-1, ipc-3; 'wireguard-native' on ipc-2" in flat
    assert "Write the token file" not in out


def test_an_even_number_of_servers_is_refused(tmp_path, ansible_env):
    rc, out = converge(tmp_path, ansible_env, {"ipc-1": "control", "ipc-2": "control", "ipc-3": "worker"}, {})
    assert rc != 0
    flat = " ".join(out.split())
    assert "cluster line-1 (host ipc-1): 2 servers (ipc-1, ipc-2)" in flat, out[-3000:]
    assert "k3s_allow_unsupported_server_count: true" in flat


def test_a_damaged_bundle_is_refused_before_anything_is_copied(tmp_path, ansible_env):
    bundle = tmp_path / "bundle"
    subprocess.run([sys.executable, BUILD_BUNDLE, "--version", "v1.31.4+k3s1", "--out", str(bundle)], check=True)
    with open(bundle / "k3s", "ab") as f:
        f.write(b"# tampered\n")
    rc, out = converge(tmp_path, ansible_env, {"ipc-1": "control"},
                       {"k3s_artifact_source": "bundle", "k3s_bundle_dir": str(bundle), "k3s_install_images": False})
    assert rc != 0
    flat = " ".join(out.split())
    assert "bundle %s: k3s has sha256" % bundle in flat, out[-3000:]
    assert "but sha256sum-amd64.txt says" in flat and "nothing was installed" in flat
    assert "Copy the binary next to its destination" not in out


def test_a_bundle_checksum_file_that_is_not_one_is_refused_naming_the_line(tmp_path, ansible_env):
    bundle = tmp_path / "bundle"
    subprocess.run([sys.executable, BUILD_BUNDLE, "--version", "v1.31.4+k3s1", "--out", str(bundle)], check=True)
    sums = bundle / "sha256sum-amd64.txt"
    sums.write_text(sums.read_text() + "SHA256 (k3s) = 0123\n")
    rc, out = converge(tmp_path, ansible_env, {"ipc-1": "control"},
                       {"k3s_artifact_source": "bundle", "k3s_bundle_dir": str(bundle), "k3s_install_images": False})
    assert rc != 0
    flat = " ".join(out.split())
    assert "%s line 3 is not '<sha256> <file name>': 'SHA256 (k3s) = 0123'" % sums in flat, out[-3000:]
    assert "Copy the binary next to its destination" not in out


def test_a_mirror_serving_the_wrong_checksum_file_fails_before_any_download(tmp_path, ansible_env):
    # A mirror answering 200 with an HTML page where the checksum file should be.
    release = tmp_path / "mirror" / "v1.31.4+k3s1"
    release.mkdir(parents=True)
    (release / "sha256sum-amd64.txt").write_text("<!DOCTYPE html>\n<html><body>Not here</body></html>\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "mirror"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d" % server.server_address[1]
        env = dict(ansible_env, no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
        rc, out = converge(tmp_path, env, {"ipc-1": "control"},
                           {"k3s_artifact_source": "mirror", "k3s_mirror_url": url, "k3s_install_images": False})
    finally:
        server.shutdown()
        server.server_close()
    assert rc != 0
    flat = " ".join(out.split())
    assert "%s/v1.31.4%%2Bk3s1/sha256sum-amd64.txt line 1 is not '<sha256> <file name>': '<!DOCTYPE html>'" % url in flat, \
        out[-3000:]
    assert "Download the binary next to its destination" not in out
