# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the import format from YAML and CSV files (validation stays in ztp_db)."""

from __future__ import annotations

import csv
import io
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import HARDWARE_FIELDS, ZtpError

try:
    import yaml
    SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader parses 10k devices ~10x faster
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

CSV_COLUMNS = ("serial", "mac", "macs", "hostname", "site", "cluster", "role", "os_family", "ip")


def detect_format(path: str, fmt: str = "auto") -> str:
    if fmt != "auto":
        return fmt
    return "csv" if path.lower().endswith(".csv") else "yaml"


def load_file(path: str, fmt: str = "auto") -> dict:
    """The import document in `path` as the mapping ZtpStore.import_data takes."""
    fmt = detect_format(path, fmt)
    try:
        with open(path, "r", encoding="utf-8", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ZtpError("import file %s" % path, None, "cannot be read: %s" % exc) from None
    if fmt == "csv":
        return {"devices": parse_csv(text, path)}
    return parse_yaml(text, path)


def parse_yaml(text: str, source: str = "data") -> dict:
    if not HAS_YAML:  # pragma: no cover
        raise ZtpError("import file %s" % source, None, "PyYAML is required to read YAML")
    try:
        data = yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise ZtpError("import file %s" % source, None, "is not valid YAML: %s" % exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ZtpError("import file %s" % source, None, "must hold a mapping with regions, sites, clusters and devices")
    return data


def parse_csv(text: str, source: str = "data") -> t.List[dict]:
    """One device per row; hardware.* and labels.* are dotted columns; empty cells are absent."""
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    for column in columns:
        known = column in CSV_COLUMNS or column.startswith("labels.") or (
            column.startswith("hardware.") and column[len("hardware."):] in HARDWARE_FIELDS)
        if not known:
            raise ZtpError("import file %s" % source, column, "unknown CSV column (known: %s, hardware.<%s>, labels.<key>)"
                           % (", ".join(CSV_COLUMNS), "|".join(HARDWARE_FIELDS)))
    if "serial" not in columns:
        raise ZtpError("import file %s" % source, "serial", "the CSV header has no serial column")
    devices = []
    for row_number, row in enumerate(reader, start=2):
        if None in row:
            raise ZtpError("import file %s, line %d" % (source, row_number), None, "has more cells than the header")
        device = {}  # type: dict[str, t.Any]
        for column, cell in row.items():
            cell = (cell or "").strip()
            if cell == "":
                continue
            if column.startswith("hardware."):
                device.setdefault("hardware", {})[column[len("hardware."):]] = cell
            elif column.startswith("labels."):
                device.setdefault("labels", {})[column[len("labels."):]] = cell
            else:
                device[column] = cell
        if device:
            devices.append(device)
    return devices
