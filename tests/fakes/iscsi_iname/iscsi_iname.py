#!/usr/bin/env python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test double of open-iscsi's ``iscsi-iname``, as strict as the real one.

``iscsi-iname [-p PREFIX]`` prints PREFIX:<12 random hex digits> (the real one's
default prefix without -p). A prefix that does not begin with ``iqn.`` is
refused, and so is any other argument (usage on stderr, exit 1), as the real
one does. ``-h`` prints the usage and exits 0.
"""

from __future__ import annotations

import secrets
import sys

DEFAULT_PREFIX = "iqn.2016-04.com.open-iscsi"
USAGE = "Usage: iscsi-iname [OPTION]\nGenerate an iSCSI name.\n  -p, --prefix=PREFIX  the name's prefix\n"
MAX_NAME = 223  # RFC 3720: iSCSI names are at most 223 bytes


def main(argv: list[str]) -> int:
    prefix = DEFAULT_PREFIX
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if arg in ("-p", "--prefix") and args:
            prefix = args.pop(0)
        elif arg.startswith("--prefix="):
            prefix = arg.split("=", 1)[1]
        else:
            sys.stderr.write(USAGE)
            return 1
    if not prefix.startswith("iqn."):
        sys.stderr.write("Prefix '%s' must start with 'iqn.'\n" % prefix)
        return 1
    name = "%s:%s" % (prefix, secrets.token_hex(6))
    if len(name) > MAX_NAME:
        sys.stderr.write("Prefix too long\n")
        return 1
    sys.stdout.write(name + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
