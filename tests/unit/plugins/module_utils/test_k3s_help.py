# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's config.yaml allow-list against `k3s server|agent --help`: the parser on hand-written help
texts (fixtures/k3s, see its README), and the real binary's own help when a real bundle is given."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import k3s_config

FIXTURES = Path(__file__).parent / "fixtures" / "k3s"
VERSION = "v1.31.4+k3s1"


def help_text(role: str) -> str:
    return (FIXTURES / ("%s-help-v1.31.txt" % role)).read_text(encoding="utf-8")


def test_help_flags_reads_names_and_aliases():
    text = ("OPTIONS:\n"
            "   --config FILE, -c FILE      (config) Load configuration from FILE (default: \"x\") [$K3S_CONFIG_FILE]\n"
            "   -v value                    (logging) Number for the log level verbosity (default: 0)\n"
            "   --cluster-init              (cluster) Initialize a new cluster using embedded Etcd\n"
            "   --help, -h                  show help\n"
            "NAME:\n   k3s server - Run management server\n")
    assert k3s_config.help_flags(text) == frozenset({"config", "c", "v", "cluster-init"})


@pytest.mark.parametrize("role", ["server", "agent"])
def test_the_allow_list_is_in_the_v131_help(role):
    assert k3s_config.help_problems(help_text(role), role, VERSION) == []


def test_a_flag_missing_from_the_help_is_named():
    text = "\n".join(line for line in help_text("server").splitlines() if "--etcd-s3-timeout" not in line)
    assert k3s_config.help_problems(text, "server", VERSION) == [
        "etcd-s3-timeout is allowed for `k3s server` v1.31 but not in its --help"]
    assert k3s_config.help_problems("", "server", VERSION) == ["no flags found in the help text of `k3s server`"]
    assert k3s_config.help_problems(help_text("agent"), "agent", "v1.29.0+k3s1") == [
        "the role knows no flags of `k3s agent` in K3s v1.29"]


def _real_k3s() -> str:
    """The k3s of EDGEFLEET_K3S_BUNDLE if it is the real binary, else '' (the reason is in SKIP)."""
    bundle = os.environ.get("EDGEFLEET_K3S_BUNDLE", "")
    binary = Path(bundle) / "k3s"
    if not bundle or not binary.is_file():
        return ""
    with open(binary, "rb") as handle:
        if handle.read(4) != b"\x7fELF":  # the test double is a Python script
            return ""
    return str(binary)


REAL = _real_k3s()
SKIP = ("needs a real K3s bundle: EDGEFLEET_K3S_BUNDLE=<folder with the release's k3s> (unset, or it holds the "
        "test double); K3s cannot be downloaded here")


@pytest.mark.skipif(not REAL, reason=SKIP)
@pytest.mark.parametrize("role", ["server", "agent"])
def test_the_allow_list_is_in_the_pinned_binary_s_own_help(role):
    version = subprocess.run([REAL, "--version"], capture_output=True, text=True, check=True).stdout.split()[2]
    shown = subprocess.run([REAL, role, "--help"], capture_output=True, text=True, check=True).stdout
    assert k3s_config.help_problems(shown, role, version) == []
