# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft's ARM OpenAPI (Swagger 2.0) files as strict JSON Schema validators.

The fake ARM server checks every request it receives and every response it
sends against the operation of the spec file for that api-version. Swagger
2.0 is looser than what a strict double needs, so the conversion tightens it
the way ARM itself behaves:

- an object's properties are closed (``additionalProperties: false`` unless
  the spec gives a map), after merging its ``allOf`` bases into one object;
- ``readOnly`` properties may not be sent in a request;
- ``x-ms-secret`` properties are never returned in a response;
- ``x-nullable`` allows null; anything else must have the spec's type;
- path parameters are checked against their pattern and enum, and the
  ``api-version`` query parameter must equal the file's version.

``$ref`` across files resolve relative to the file holding them, as in the
upstream tree (../shared/specs/azure keeps its layout).
"""

from __future__ import annotations

import json
import os
import re
import typing as t
from urllib.parse import unquote

import jsonschema


class SpecError(Exception):
    """A request or response does not match the spec."""


def find_specs_root() -> str:
    """../shared/specs next to the repository (the tree copy under .build/ is deeper)."""
    candidates = [os.environ.get("EDGEFLEET_SPECS_DIR") or "",
                  # the repository's copy (left out of the .build tree)
                  os.path.join(os.environ.get("EDGEFLEET_REPO_ROOT") or "", "tests", "specs") if os.environ.get("EDGEFLEET_REPO_ROOT") else "",
                  # tests/specs next to this folder: a checkout (make lab runs the fake from the repository)
                  os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "specs"),
                  os.path.join(os.environ.get("EDGEFLEET_REPO_ROOT") or "", "..", "..", "shared", "specs"),
                  "/work/shared/specs"]
    here = os.path.dirname(os.path.abspath(__file__))
    for _level in range(10):
        candidates.append(os.path.join(here, "shared", "specs"))
        here = os.path.dirname(here)
    for path in candidates:
        if path and os.path.isdir(os.path.join(path, "azure")):
            return os.path.abspath(path)
    raise RuntimeError("../shared/specs not found: set EDGEFLEET_SPECS_DIR")


class _Files:
    """Loaded spec files by absolute path."""

    def __init__(self) -> None:
        self.docs: dict = {}

    def load(self, path: str) -> dict:
        path = os.path.normpath(path)
        if path not in self.docs:
            with open(path, encoding="utf-8") as fh:
                self.docs[path] = json.load(fh)
        return self.docs[path]

    def resolve(self, ref: str, base: str) -> t.Tuple[dict, str, str]:
        """(target, file of the target, a unique key) of a $ref seen in file base."""
        file_part, pointer = (ref.split("#", 1) + [""])[:2]
        path = os.path.normpath(os.path.join(os.path.dirname(base), file_part)) if file_part else base
        node: t.Any = self.load(path)
        for part in pointer.split("/")[1:]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, path, "%s#%s" % (path, pointer)


class Converter:
    """Swagger schema -> JSON Schema, for requests or responses (readOnly/x-ms-secret differ)."""

    def __init__(self, files: _Files, mode: str) -> None:
        self.files = files
        self.mode = mode
        self.definitions: dict = {}
        self.keys: dict = {}

    def ref(self, ref: str, base: str) -> dict:
        target, path, key = self.files.resolve(ref, base)
        if key not in self.keys:
            name = "d%d" % len(self.keys)
            self.keys[key] = name
            self.definitions[name] = {}  # placeholder: recursive schemas refer to it
            self.definitions[name] = self.convert(target, path)
        return {"$ref": "#/definitions/%s" % self.keys[key]}

    def _merged(self, schema: dict, base: str) -> t.Tuple[dict, list, t.Any, str]:
        """Properties (with their files), required and additionalProperties of an object and its allOf bases."""
        props: dict = {}
        required: list = []
        additional: t.Any = None
        for part in schema.get("allOf", []):
            part_base = base
            if "$ref" in part:
                part, part_base = self.files.resolve(part["$ref"], base)[:2]
            p, r, a, _kind = self._merged(part, part_base)
            props.update(p)
            required.extend(r)
            additional = a if a is not None else additional
        for name, sub in (schema.get("properties") or {}).items():
            props[name] = (sub, base)
        required.extend(schema.get("required") or [])
        if "additionalProperties" in schema:
            additional = (schema["additionalProperties"], base)
        return props, required, additional, schema.get("type") or ""

    def convert(self, schema: dict, base: str) -> dict:
        if "$ref" in schema:
            return self.ref(schema["$ref"], base)
        out: dict = {}
        kind = schema.get("type")
        props, required, additional, _kind = self._merged(schema, base)
        if props or kind == "object" or schema.get("allOf") or additional is not None:
            kind = "object"
            properties = {}
            for name, (sub, sub_base) in props.items():
                resolved = sub
                if "$ref" in sub:
                    resolved = self.files.resolve(sub["$ref"], sub_base)[0]
                if self.mode == "request" and (sub.get("readOnly") or resolved.get("readOnly")):
                    properties[name] = {"x-forbidden": "%s is read-only: ARM sets it, a client never sends it" % name}
                    continue
                if self.mode == "response" and (sub.get("x-ms-secret") or resolved.get("x-ms-secret")):
                    properties[name] = {"x-forbidden": "%s is a secret (x-ms-secret): ARM never returns it" % name}
                    continue
                properties[name] = self.convert(sub, sub_base)
            out["properties"] = properties
            req = [r for r in dict.fromkeys(required) if "x-forbidden" not in properties.get(r, {})]
            if req:
                out["required"] = req
            if additional is None or additional[0] is False:
                out["additionalProperties"] = False
            elif additional[0] is True or additional[0] == {}:
                out["additionalProperties"] = True
            else:
                out["additionalProperties"] = self.convert(additional[0], additional[1])
        if kind == "array":
            out["items"] = self.convert(schema.get("items") or {}, base)
        for key in ("enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"):
            if key in schema:
                out[key] = schema[key]
        if kind:
            out["type"] = [kind, "null"] if schema.get("x-nullable") else kind
        return out


def _forbidden(validator: t.Any, message: str, instance: t.Any, schema: dict) -> t.Iterator[jsonschema.ValidationError]:
    yield jsonschema.ValidationError(message)


StrictValidator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"x-forbidden": _forbidden})


class Operation:
    """One method of one path of one spec file."""

    def __init__(self, spec: "Spec", template: str, method: str, op: dict) -> None:
        self.spec = spec
        self.template = template
        self.method = method
        self.id = op.get("operationId", "%s %s" % (method, template))
        self.params = [self._param(p) for p in op.get("parameters", [])]
        self.long_running = bool(op.get("x-ms-long-running-operation"))
        self.responses = op.get("responses", {})
        self._validators: dict = {}

    def _param(self, param: dict) -> dict:
        if "$ref" in param:
            return self.spec.files.resolve(param["$ref"], self.spec.path)[0]
        return param

    def _validator(self, key: str, schema: dict, mode: str) -> t.Any:
        if key not in self._validators:
            conv = Converter(self.spec.files, mode)
            root = conv.convert(schema, self.spec.path)
            root["definitions"] = conv.definitions
            self._validators[key] = StrictValidator(root)
        return self._validators[key]

    def check_request(self, path_params: dict, query: dict, body: t.Any) -> None:
        for param in self.params:
            where, name = param.get("in"), param.get("name")
            if where == "path":
                value = path_params.get(name)
                if value is None or value == "":
                    raise SpecError("%s: path parameter %s is missing" % (self.id, name))
                if "pattern" in param and not re.search(param["pattern"], value):
                    raise SpecError("%s: path parameter %s=%r does not match %s" % (self.id, name, value, param["pattern"]))
                if "enum" in param and value not in param["enum"]:
                    raise SpecError("%s: path parameter %s=%r not in %s" % (self.id, name, value, param["enum"]))
                for key in ("minLength", "maxLength"):
                    if key in param and (len(value) < param[key] if key == "minLength" else len(value) > param[key]):
                        raise SpecError("%s: path parameter %s=%r breaks %s %s" % (self.id, name, value, key, param[key]))
            elif where == "query" and name == "api-version":
                if query.get("api-version") != self.spec.version:
                    raise SpecError("%s: api-version %r, the spec is %s" % (self.id, query.get("api-version"), self.spec.version))
            elif where == "query" and param.get("required") and name not in query:
                raise SpecError("%s: query parameter %s is missing" % (self.id, name))
            elif where == "body":
                if body is None:
                    if param.get("required"):
                        raise SpecError("%s: the request has no body (%s is required)" % (self.id, name))
                    continue
                self._check(self._validator("request", param["schema"], "request"), body, "request body")
        if body is not None and not any(p.get("in") == "body" for p in self.params):
            raise SpecError("%s: takes no request body" % self.id)

    def check_response(self, status: int, body: t.Any) -> None:
        code = str(status)
        response = self.responses.get(code)
        if response is None:
            if status < 400 or "default" not in self.responses:
                raise SpecError("%s: status %s is not a response of the spec (%s)" % (self.id, code, ", ".join(self.responses)))
            response, code = self.responses["default"], "default"
        schema = response.get("schema")
        if body is None and status in (202, 204):
            return  # an accepted operation's answer may carry no body; its monitor says the rest
        if schema is None:
            if body not in (None, b"", ""):
                raise SpecError("%s: response %s has no body in the spec" % (self.id, code))
            return
        # ARM writes an unset optional property as null: in a response that is the same as absent.
        self._check(self._validator("response-" + code, schema, "response"), drop_nulls(body), "response %s body" % code)

    def _check(self, validator: t.Any, body: t.Any, what: str) -> None:
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            lines = ["%s at /%s: %s" % (what, "/".join(str(p) for p in e.absolute_path), e.message) for e in errors[:5]]
            raise SpecError("%s (api-version %s): %s" % (self.id, self.spec.version, "; ".join(lines)))


def drop_nulls(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return dict((k, drop_nulls(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


class Spec:
    """One ARM spec file: its operations by path template."""

    def __init__(self, path: str, files: _Files | None = None) -> None:
        self.files = files or _Files()
        self.path = os.path.normpath(path)
        doc = self.files.load(self.path)
        self.version = doc["info"]["version"]
        self.routes = []
        for template, methods in doc.get("paths", {}).items():
            pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            for method, op in methods.items():
                if method in ("get", "put", "patch", "delete", "post", "head"):
                    self.routes.append((re.compile(pattern, re.I), method.upper(), Operation(self, template, method.upper(), op)))

    def match(self, method: str, path: str) -> t.Tuple[Operation, dict] | None:
        for regex, verb, op in self.routes:
            found = regex.match(path)
            if found and verb == method:
                return op, dict((k, unquote(v)) for k, v in found.groupdict().items())
        return None


def load_specs(root: str | None = None) -> t.Dict[str, Spec]:
    """The spec files the fake serves, by resource kind and api-version."""
    root = root or find_specs_root()
    azure = os.path.join(root, "azure")
    files = _Files()
    hybrid = "hybridkubernetes/resource-manager/Microsoft.Kubernetes/stable/%s/connectedClusters.json"
    config = "kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration/%s"
    table = {
        "connectedClusters@2024-01-01": hybrid % "2024-01-01",
        "connectedClusters@2026-05-01": hybrid % "2026-05-01",
        "extensions@2025-03-01": config % "extensions/stable/2025-03-01/extensions.json",
        "fluxConfigurations@2025-04-01": config % "fluxConfigurations/stable/2025-04-01/fluxconfiguration.json",
    }
    return dict((key, Spec(os.path.join(azure, rel), files)) for key, rel in table.items())
