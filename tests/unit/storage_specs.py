# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The published schemas the storage tests validate against, and strict validation.

The schemas are upstream files, not part of the collection: the K3s HelmChart
CRD, the Longhorn and Rook charts' values.yaml and CRDs, and the Kubernetes
OpenAPI, in the project's ``shared/specs`` folder (see its SOURCES.md). It is
found through EDGEFLEET_SPECS, else as ``shared/specs`` beside the repository
or one of its parent folders. Without it the tests fail, saying where they looked.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import typing as t

import jsonschema
import pytest
import yaml

LONGHORN_CHART = "longhorn/v1.12.1"
ROOK = "rook/v1.20.6"


def specs_dir() -> str:
    given = os.environ.get("EDGEFLEET_SPECS")
    looked = []
    if given:
        looked.append(given)
    # the repository's copy (tests/specs, left out of the .build tree), then a shared/specs folder upwards
    looked.append(os.path.join(os.environ.get("EDGEFLEET_REPO_ROOT") or os.getcwd(), "tests", "specs"))
    start = os.environ.get("EDGEFLEET_REPO_ROOT") or os.getcwd()
    folder = os.path.abspath(start)
    while True:
        looked.append(os.path.join(folder, "shared", "specs"))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for candidate in looked:
        if os.path.isfile(os.path.join(candidate, "k3s", "helm.cattle.io_helmcharts.yaml")):
            return candidate
    pytest.fail("the upstream schemas (shared/specs) were not found; set EDGEFLEET_SPECS. Looked in: " + ", ".join(looked))


def spec_path(*parts: str) -> str:
    return os.path.join(specs_dir(), *parts)


@functools.lru_cache(maxsize=None)
def _yaml_docs(path: str) -> tuple:
    with open(path, encoding="utf-8") as handle:
        return tuple(d for d in yaml.safe_load_all(handle) if d)


def chart_values(chart: str) -> dict:
    """The default values.yaml of a chart: 'longhorn', 'rook-ceph' or 'rook-ceph-cluster'."""
    path = spec_path(LONGHORN_CHART, "chart", "values.yaml") if chart == "longhorn" else \
        spec_path(ROOK, "deploy", "charts", chart, "values.yaml")
    return copy.deepcopy(_yaml_docs(path)[0])


def strict(schema: t.Any) -> t.Any:
    """The schema with unknown fields refused wherever it lists the fields: the
    API server prunes unknown fields silently, so a typo would vanish unseen."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@functools.lru_cache(maxsize=None)
def _crds(path: str) -> dict:
    found = {}
    for doc in _yaml_docs(path):
        if doc.get("kind") != "CustomResourceDefinition":
            continue
        group = doc["spec"]["group"]
        for version in doc["spec"]["versions"]:
            if version.get("served"):
                key = ("%s/%s" % (group, version["name"]), doc["spec"]["names"]["kind"])
                found[key] = strict(version["schema"]["openAPIV3Schema"])
    return found


def crd_schema(api_version: str, kind: str) -> dict:
    for path in (spec_path("k3s", "helm.cattle.io_helmcharts.yaml"),
                 spec_path(LONGHORN_CHART, "deploy", "longhorn.yaml"),
                 spec_path(ROOK, "deploy", "examples", "crds.yaml")):
        schema = _crds(path).get((api_version, kind))
        if schema is not None:
            return schema
    raise AssertionError("no published CRD schema serves %s %s" % (api_version, kind))


@functools.lru_cache(maxsize=None)
def _swagger() -> dict:
    with open(spec_path("kubernetes", "release-1.31", "swagger.json"), encoding="utf-8") as handle:
        return strict(json.load(handle)["definitions"])


_CORE = {("storage.k8s.io/v1", "StorageClass"): "io.k8s.api.storage.v1.StorageClass"}


def validate(resource: dict) -> None:
    """Validate a Kubernetes resource against its published schema (strict)."""
    key = (resource.get("apiVersion"), resource.get("kind"))
    if key in _CORE:
        schema = {"$ref": "#/definitions/" + _CORE[key], "definitions": _swagger()}
        jsonschema.Draft4Validator(schema).validate(resource)
        return
    jsonschema.Draft7Validator(crd_schema(*key)).validate(resource)


def unknown_keys(ours: t.Any, defaults: t.Any, path: str = "") -> list[str]:
    """Keys we set that the chart's values.yaml does not have (a typo the chart would ignore).

    Below a default that is not a mapping (a scalar, a list, ~) or an empty
    mapping (labels, annotations) the chart takes any value; the type is
    compared where the default is a scalar.
    """
    found = []
    if isinstance(ours, dict):
        if not isinstance(defaults, dict):
            if defaults is not None:
                found.append("%s: a mapping where the chart has %r" % (path or "(top)", defaults))
            return found
        if not defaults:  # an empty mapping in the chart is free-form (labels, annotations, selectors)
            return found
        for key, value in ours.items():
            where = "%s.%s" % (path, key) if path else key
            if key not in defaults:
                found.append(where)
            else:
                found.extend(unknown_keys(value, defaults[key], where))
    elif defaults is not None and not isinstance(defaults, dict):
        same = isinstance(ours, bool) == isinstance(defaults, bool) and (
            isinstance(ours, type(defaults)) or isinstance(defaults, type(ours))
            or (isinstance(ours, (int, float)) and isinstance(defaults, (int, float))))
        if not same:
            found.append("%s: %r where the chart's default is %r" % (path, ours, defaults))
    return found
