# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process, the way ansible-core runs it, and capture its result."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


def run_module(main, args, check_mode=False, diff=False):
    """Run a module's main() in-process; return (failed, result)."""
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True

    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise ModuleExit(kwargs, True)

    with patch_module_args(args):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(basic.AnsibleModule, "exit_json", exit_json)
            mp.setattr(basic.AnsibleModule, "fail_json", fail_json)
            with pytest.raises(ModuleExit) as caught:
                main()
    # results must be JSON-serialisable, as they are for a real module
    json.dumps(caught.value.result)
    return caught.value.failed, caught.value.result
