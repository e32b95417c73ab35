# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mark data from the ZTP database unsafe, so `{{ }}` typed into a field is never templated."""

from __future__ import annotations

import typing as t

try:
    from ansible.utils.unsafe_proxy import wrap_var
except ImportError:  # pragma: no cover - a future core without unsafe_proxy trusts no inventory string anyway
    def wrap_var(v: t.Any) -> t.Any:
        return v


def make_unsafe(value: t.Any) -> t.Any:
    """Recursively wrap strings that could hold a template.

    Only strings containing '{' or '}' are wrapped (the way community.general
    does it): every Jinja construct needs a brace, and plain strings stay plain,
    which keeps 10,000-host inventories fast. On ansible-core 2.19+ strings from
    an inventory plugin are untrusted by default as well; this keeps the
    guarantee explicit and independent of that default.
    """
    if isinstance(value, str):
        return wrap_var(value) if ("{" in value or "}" in value) else value
    if isinstance(value, dict):
        return dict((make_unsafe(k), make_unsafe(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [make_unsafe(v) for v in value]
    return value
