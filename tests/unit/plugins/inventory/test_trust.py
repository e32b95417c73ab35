# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugin_utils.unsafe: which strings of the ZTP database the inventory trusts."""

from __future__ import annotations

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, is_trusted_as_template, trust_as_template
from ansible_collections.edgefleet.platform.plugins.plugin_utils.unsafe import could_template, trust_plain

LOOKUP = "{{ lookup('ansible.builtin.pipe', 'echo pwned') }}"
# No brace at all: the header gives Jinja other delimiters.
HEADER = "#jinja2:variable_start_string:'[[',variable_end_string:']]'\n[[ lookup('ansible.builtin.pipe', 'echo pwned') ]]"


@pytest.mark.parametrize("value, expected", [
    ("plant-a", False), ("192.0.2.10", False), ("", False), ("line #3", False), ("100%", False),
    ("[[ x ]]", False),  # custom delimiters need a header (or template options, which never reach variables)
    (LOOKUP, True), ("{% if x %}", True), ("{# c #}", True), ("a { b", True), ("}", True), (HEADER, True),
    ("note: #jinja2:x", True),  # core honours the header at the start only; anywhere is stricter
])
def test_could_template(value, expected):
    assert could_template(value) is expected


def test_plain_strings_are_trusted_the_others_not():
    value = {"site": "plant-a", "labels": {"line": "1", "note": LOOKUP, "header": HEADER},
             "workloads": [{"name": "historian", "count": 3}], "macs": ("00:11:22:33:44:66",),
             "cores": 4, "ratio": 1.5, "ok": True, "none": None}
    out = trust_plain(value)
    assert out == dict(value, macs=["00:11:22:33:44:66"])
    assert is_trusted_as_template(out["site"])
    assert is_trusted_as_template(out["labels"]["line"])
    assert is_trusted_as_template(out["workloads"][0]["name"])
    assert is_trusted_as_template(out["macs"][0])
    assert not is_trusted_as_template(out["labels"]["note"])
    assert not is_trusted_as_template(out["labels"]["header"])
    assert (out["cores"], out["ratio"], out["ok"], out["none"]) == (4, 1.5, True, None)
    assert not is_trusted_as_template(value["site"])  # the input is left alone


def test_trust_an_input_carried_is_dropped_where_it_could_template():
    # e.g. a cache plugin that hands back trusted strings
    out = trust_plain({"note": trust_as_template(LOOKUP), "site": trust_as_template("plant-a")})
    assert not is_trusted_as_template(out["note"]) and out["note"] == LOOKUP
    assert is_trusted_as_template(out["site"])


def test_untrusted_values_are_never_templated():
    out = trust_plain({"note": LOOKUP, "header": HEADER, "site": "plant-a"})
    templar = Templar(loader=DataLoader(), variables=out)
    assert templar.template(trust_as_template("{{ note }}|{{ site }}")) == LOOKUP + "|plant-a"
    assert templar.template(trust_as_template("{{ header }}")) == HEADER
    assert templar.template(out["header"]) == HEADER
    # the test can fail: the same header, trusted, is run
    assert templar.template(trust_as_template("#jinja2:variable_start_string:'[[',variable_end_string:']]'\n[[ 6 * 7 ]]")) == 42


def test_memo_shares_repeated_strings_with_the_same_result():
    memo = {}
    first = trust_plain({"site": "plant-a", "note": LOOKUP}, memo)
    second = trust_plain({"site": "plant-a", "note": LOOKUP}, memo)
    assert first["site"] is second["site"] and first["note"] is second["note"]
    assert is_trusted_as_template(second["site"]) and not is_trusted_as_template(second["note"])
    # a trusted input reaching the memo first does not make the shared result trusted
    memo = {}
    trust_plain(trust_as_template(LOOKUP), memo)
    assert not is_trusted_as_template(trust_plain(LOOKUP, memo))
