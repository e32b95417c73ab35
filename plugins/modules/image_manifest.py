#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_manifest
short_description: Write the checksum manifest of a folder the image server serves
version_added: 0.1.0
description:
  - Computes the SHA-256 of the files of O(path) and writes them as C(SHA256SUMS) (the C(sha256sum -c) format) next to
    them, only when the manifest's content changes.
  - Each file named in O(expected) must have that checksum, or the module fails naming the file, before anything is
    written; the image_server role passes the checksums the operator gave for golden images.
  - Devices check every artifact against this manifest before they use it.
author:
  - Edgefleet platform team (@edgefleet)
attributes:
  check_mode:
    support: full
    description: Reports whether the manifest would change, writes nothing.
  diff_mode:
    support: full
    description: The manifest before and after.
options:
  path:
    description: The folder.
    type: path
    required: true
  files:
    description: The file names to list; all regular files of O(path) but the manifest when left out.
    type: list
    elements: str
  expected:
    description: File name to the SHA-256 it must have.
    type: dict
    default: {}
  manifest:
    description: The manifest's file name.
    type: str
    default: SHA256SUMS
"""

EXAMPLES = r"""
- name: Golden images with their manifest
  edgefleet.platform.image_manifest:
    path: /srv/edgefleet/images/images
    expected:
      debian-12.img: 4f0c6d...e1
"""

RETURN = r"""
checksums:
  description: File name to SHA-256.
  returned: always
  type: dict
  sample: {debian-12.img: 4f0c6d9e6a0b5f1c0e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d}
manifest:
  description: The manifest's path.
  returned: always
  type: str
  sample: /srv/edgefleet/images/images/SHA256SUMS
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_images import ManifestError, build_manifest, render_manifest


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            files=dict(type="list", elements="str"),
            expected=dict(type="dict", default={}),
            manifest=dict(type="str", default="SHA256SUMS"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params["path"]):
        module.fail_json(msg="%s is not a folder" % params["path"])
    target = os.path.join(params["path"], params["manifest"])
    try:
        checksums = build_manifest(params["path"], params["files"], params["expected"], params["manifest"])
    except (ManifestError, OSError) as exc:
        module.fail_json(msg=str(exc))
    content = render_manifest(checksums)
    before = ""
    if os.path.exists(target):
        with open(target, encoding="utf-8") as handle:
            before = handle.read()
    changed = before != content
    if changed and not module.check_mode:
        tmp = target + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, target)
    result = dict(changed=changed, checksums=checksums, manifest=target)
    if module._diff and changed:
        result["diff"] = dict(before=before, after=content, before_header=target, after_header=target)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
