# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Template trust for data from the ZTP database: `{{ }}` typed into a field is never templated.

ansible-core templates only strings tagged as trusted, and ``ansible-inventory --list`` (AWX adds
``--export``) prints every untrusted host variable as ``{"__ansible_unsafe": "..."}``. AWX stores that
JSON as it is and hands it to its jobs through an inventory script, whose plain strings ansible-core
trusts while ``__ansible_unsafe`` ones stay untrusted. So a value that cannot hold a template is trusted
(it is printed as a plain string, and there is nothing in it to template), and a value that could hold
one stays untrusted, in the playbook and through AWX.
"""

from __future__ import annotations

import typing as t

from ansible.template import trust_as_template

# A template needs a Jinja delimiter ({{ {% {#), or a header that redefines the delimiters.
_HEADER = "#jinja2:"


def could_template(value: str) -> bool:
    """Whether ansible-core could find a template in `value`: a brace anywhere, or a `#jinja2:` header
    (core honours one at the start; anywhere is stricter and as cheap)."""
    return "{" in value or "}" in value or _HEADER in value


def trust_plain(value: t.Any, memo: dict | None = None) -> t.Any:
    """A copy of `value` (dicts, lists, scalars) whose strings are trusted when they cannot hold a
    template and untrusted when they could; dict keys are left as they are (core never templates them).

    `memo` (one dict per inventory parse) shares the result for repeated strings: a fleet repeats its
    sites, states and roles, and tagging is the expensive part.
    """
    if isinstance(value, str):
        marked = memo.get(value) if memo is not None else None
        if marked is None:
            # str() drops any trust an input already carried (a cache plugin may have tagged it)
            marked = str(value) if could_template(value) else trust_as_template(value)
            if memo is not None:
                memo[value] = marked
        return marked
    if isinstance(value, dict):
        return dict((k, trust_plain(v, memo)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [trust_plain(v, memo) for v in value]
    return value
