# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checksum manifests of what the image server serves (``sha256sum -c`` format).

The deployer and the installers check every artifact against the manifest next
to it before they use it; the image_server role writes the manifests with the
image_manifest module, which calls these.
"""

from __future__ import annotations

import hashlib
import os
import re
import typing as t

MANIFEST = "SHA256SUMS"
_LINE_RE = re.compile(r"^([0-9a-f]{64})  (\S+)$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ManifestError(ValueError):
    """A file, name or checksum that does not fit; the message names it."""


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_manifest(text: str) -> t.Dict[str, str]:
    """name -> sha256 of a manifest; any other line is an error naming it."""
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE_RE.match(line)
        if not match:
            raise ManifestError("manifest line %d is not '<sha256>  <name>': %r" % (number, line[:120]))
        out[match.group(2)] = match.group(1)
    return out


def render_manifest(checksums: t.Mapping[str, str]) -> str:
    return "".join("%s  %s\n" % (checksums[name], name) for name in sorted(checksums))


def build_manifest(folder: str, names: t.Optional[t.Sequence[str]] = None,
                   expected: t.Optional[t.Mapping[str, str]] = None, manifest: str = MANIFEST) -> t.Dict[str, str]:
    """The checksums of the files of a folder (or the named ones), each checked
    against ``expected`` where one is given (a mismatch names the file)."""
    if names is None:
        names = sorted(n for n in os.listdir(folder) if n != manifest and os.path.isfile(os.path.join(folder, n)))
    checksums = {}
    for name in names:
        if not _NAME_RE.match(name):
            raise ManifestError("%r is not a plain file name" % name)
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise ManifestError("%s does not exist" % path)
        checksums[name] = sha256_file(path)
    for name, want in (expected or {}).items():
        if name not in checksums:
            raise ManifestError("%s has an expected checksum but is not in %s" % (name, folder))
        if checksums[name] != want.lower():
            raise ManifestError("%s has sha256 %s, expected %s" % (os.path.join(folder, name), checksums[name], want.lower()))
    return checksums
