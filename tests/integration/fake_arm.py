# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake ARM (tests/fakes/arm) for the module tests: one process per test module (fixture ``fake``),
reset before each test by ``arm_env``, which also gives the environment that points the modules at it."""

from __future__ import annotations

import os
import sys

import pytest

REPO = os.environ.get("EDGEFLEET_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "fakes", "arm"))
import server  # noqa: E402  pylint: disable=wrong-import-position
from client import SUBSCRIPTION, FakeArmProcess  # noqa: E402  pylint: disable=wrong-import-position

__all__ = ["REPO", "SUBSCRIPTION", "arm_env", "fake_arm_process", "server"]


@pytest.fixture(scope="module", name="fake")
def fake_arm_process(tmp_path_factory):
    proc = FakeArmProcess(str(tmp_path_factory.mktemp("fake-arm")))
    yield proc
    proc.stop()


def arm_env(proc, home, base=None, **credentials):
    """Reset the fake; the environment of a run against it (``base``: os.environ by default)."""
    proc.control("POST", "/_fake/reset", {})
    env = dict(os.environ if base is None else base)
    env.update(EDGEFLEET_ARM_ENDPOINT=proc.url, EDGEFLEET_ARM_CA_BUNDLE=proc.ca, HOME=str(home), ANSIBLE_NOCOLOR="1")
    env.update(credentials)
    return env
