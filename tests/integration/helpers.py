# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the integration tests: paths, running ansible-* commands, reading the recap."""

from __future__ import annotations

import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, "files")
PLAYBOOKS = os.path.join(HERE, "playbooks")


def run(cmd, env, check=True, cwd=None):
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d)\nstdout:\n%s\nstderr:\n%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc


def recap(stdout):
    """{'host': {'ok': n, 'changed': n, 'failed': n, ...}} from the PLAY RECAP."""
    out = {}
    for host, fields in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", stdout, re.M):
        out[host] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", fields))
    return out
