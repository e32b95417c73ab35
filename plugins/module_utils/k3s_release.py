# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The K3s release's checksum file, ``sha256sum-<arch>.txt``.

Pure Python, no I/O. K3s publishes the file as GNU ``sha256sum`` writes it: one
``<64 hex digits><space><space or *><file name>`` line per artifact (``*`` marks
binary mode). Anything else means the wrong file was fetched (a mirror's HTML
error page, a truncated download), so it is refused naming the line rather than
read as "no checksum listed".
"""

from __future__ import annotations

import re
import typing as t

_LINE = re.compile(r"^(?P<digest>[0-9A-Fa-f]{64}) [ *](?P<name>\S(?:.*\S)?)\s*$")
_SHOWN = 80  # characters of a bad line quoted in the error


class ChecksumFileError(ValueError):
    """The text is not a sha256sum file; the message names the source and the line."""


def parse_checksums(text: t.Any, source: str = "checksum file") -> dict[str, str]:
    """{file name: lower-case sha256} from the text of a ``sha256sum`` file.

    Blank lines are skipped. A line that is not ``<sha256>  <name>`` or
    ``<sha256> *<name>``, or a name listed twice with different digests, raises
    ``ChecksumFileError`` naming ``source`` and the line number.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise ChecksumFileError("%s: the text of a sha256sum file is required, got %s" % (source, type(text).__name__))
    sums = {}  # type: dict[str, str]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        found = _LINE.match(line)
        if not found:
            shown = line if len(line) <= _SHOWN else line[:_SHOWN] + "..."
            raise ChecksumFileError(
                "%s line %d is not '<sha256>  <file name>': %r" % (source, number, shown))
        name, digest = found.group("name"), found.group("digest").lower()
        if sums.get(name, digest) != digest:
            raise ChecksumFileError(
                "%s line %d lists %s again with another sha256 (%s, before %s)" % (source, number, name, digest, sums[name]))
        sums[name] = digest
    return sums
