"""pytest plugin: one row per test for the timing table of `make test`.

Loaded by `make lab-test` (``-p pytest_timings``, with hack/ on PYTHONPATH).
When hack/steps.sh runs the target it sets EDGEFLEET_TIMINGS and EDGEFLEET_STEP,
and each test's seconds (setup, call and teardown: a module fixture's bring-up
counts for the first test that uses it, its tear-down for the last) are appended
there as ``STEP<TAB>NAME<TAB>SECONDS<TAB>RESULT``. Without them it does nothing.
"""

from __future__ import annotations

import os

import pytest

_seconds: dict[str, float] = {}
_result: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get("EDGEFLEET_TIMINGS")
    if not path:
        return
    nodeid = report.nodeid
    _seconds[nodeid] = _seconds.get(nodeid, 0.0) + report.duration
    if report.failed:
        _result[nodeid] = "FAILED" if report.when == "call" else "FAILED (%s)" % report.when
    elif report.skipped and nodeid not in _result:
        _result[nodeid] = "skipped"
    if report.when == "teardown":
        step = os.environ.get("EDGEFLEET_STEP", "lab-test")
        row = (step, nodeid.split("/")[-1], "%d" % round(_seconds.pop(nodeid)), _result.pop(nodeid, "passed"))
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\t".join(row) + "\n")
