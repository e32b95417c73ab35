# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""K3s release filter; the logic lives in module_utils/k3s_release.py.

Documentation: k3s_checksums.yml next to this plugin.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.module_utils import k3s_release


def k3s_checksums(text: t.Any, source: str = "checksum file") -> dict[str, str]:
    """{file name: sha256} from the text of a K3s release's sha256sum-<arch>.txt."""
    try:
        return k3s_release.parse_checksums(text, source)
    except k3s_release.ChecksumFileError as exc:
        # Ansible prefixes the filter name; chaining would repeat the message.
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """K3s release filter."""

    def filters(self) -> dict[str, t.Callable]:
        return {"k3s_checksums": k3s_checksums}
