#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: os_hardening_files
short_description: Write, edit and set the permissions of several files and folders in one call
version_added: 0.2.0
description:
  - Brings a list of paths to the state given, in order, in one module run. A path can be a whole file with
    its content, a folder, key/value edits of a configuration file that belongs to a package, the owner and
    mode of a path that exists, or a removal.
  - The role C(edgefleet.platform.os_hardening) writes the files of all its areas with one call instead
    of one C(template), C(copy), C(file) or C(lineinfile) task per file, which over a slow connection
    costs a round trip each.
  - Each path is reported, with its diff, only when it changed. Files are replaced atomically (a temporary
    file in the same folder, then a rename), after an optional validation command.
author:
  - Edgefleet platform team (@edgefleet)
attributes:
  check_mode:
    support: full
    description: Reports what would change, with diffs; writes nothing and runs no validation command.
  diff_mode:
    support: full
    description: Before and after of every changed file's content and of changed owners and modes.
  platform:
    platforms: posix
    support: full
    description: POSIX hosts.
options:
  files:
    description: The paths, processed in the order given (list a folder before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      state:
        description:
          - V(file) writes O(files[].content) and sets owner, group and mode.
          - V(directory) creates the folder (not its parents) and sets owner, group and mode.
          - V(edit) changes lines of an existing file, see O(files[].set) and O(files[].comment_out); the
            other lines are kept. A missing file fails (in check mode it is reported as missing instead).
          - V(attributes) sets owner, group and mode of a path when it exists; a missing path is skipped.
          - V(absent) removes a file.
        type: str
        choices: [file, directory, edit, attributes, absent]
        default: file
      content:
        description: The whole content of the file; required for V(file).
        type: str
      owner:
        description: Owner (name or id); left alone when not given.
        type: str
      group:
        description: Group (name or id); left alone when not given.
        type: str
      mode:
        description: Mode as an octal string such as V(0644); required for V(file) and V(directory).
        type: str
      validate:
        description:
          - For V(file) and V(edit), a command run on the new content before it replaces the file, with C(%s)
            standing for a temporary copy of it (for example V(/usr/sbin/sshd -t -f %s)). A non-zero exit
            fails the module with the command's output and leaves the file as it was.
        type: str
      backup:
        description: For V(file) and V(edit), keep a copy of the previous file; its name is returned in RV(backups).
        type: bool
        default: false
      set:
        description:
          - For V(edit), keys to set. The first active line of each key (C(KEY value) or C(KEY=value) after
            optional spaces) is replaced by C(KEY<separator>value); further active lines of the same key are
            commented out; a missing key is appended.
        type: dict
      separator:
        description: For V(edit), what goes between a key and its value.
        type: str
        default: " "
      comment_out:
        description: For V(edit), a regular expression; active lines it matches (from their start) get a C(# ) in front.
        type: str
"""

EXAMPLES = r"""
- name: Configuration files of an area in one call
  edgefleet.platform.os_hardening_files:
    files:
      - {path: /etc/systemd/journald.conf.d, state: directory, owner: root, group: root, mode: "0755"}
      - path: /etc/systemd/journald.conf.d/50-edgefleet.conf
        content: "{{ lookup('ansible.builtin.template', 'journald.conf.j2') }}"
        owner: root
        group: root
        mode: "0644"
      - {path: /etc/login.defs, state: edit, set: {UMASK: "027", PASS_MAX_DAYS: "365"}, separator: "\t"}
      - {path: /etc/chrony/chrony.conf, state: edit, comment_out: "(pool|server)\\s"}
      - {path: /etc/shadow, state: attributes, owner: root, group: shadow, mode: "0640"}
  register: written

- name: Restart journald when its drop-in changed
  ansible.builtin.systemd_service:
    name: systemd-journald.service
    state: restarted
  when: "'/etc/systemd/journald.conf.d/50-edgefleet.conf' in written.updated"
"""

RETURN = r"""
updated:
  description: The paths that changed (or would change in check mode), in input order.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/journald.conf.d/50-edgefleet.conf]
backups:
  description: Backup file of each changed path that asked for one.
  returned: always
  type: dict
  sample: {/etc/ssh/sshd_config.d/00-edgefleet-hardening.conf: /etc/ssh/sshd_config.d/00-edgefleet-hardening.conf.1234.2026-11-28@10:00:00~}
missing:
  description: Paths of V(attributes) (and, in check mode, V(edit)) entries that do not exist.
  returned: always
  type: list
  elements: str
"""

import os
import re
import shlex
import tempfile
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

# An active line of a key/value file: optional spaces, the key, then spaces or "=".
_KEY_LINE = r"^\s*%s(\s|=)"


def edit_text(text: str, settings: t.Optional[t.Dict[str, t.Any]], separator: str,
              comment_out: t.Optional[str]) -> str:
    """The new text of a key/value file: keys set in place (duplicates commented out, missing ones appended),
    then the active lines matching ``comment_out`` commented out. Pure, for the unit tests."""
    lines = text.splitlines()
    if comment_out:
        pattern = re.compile(comment_out)
        lines = ["# " + line if line.strip() and not line.lstrip().startswith("#") and pattern.match(line)
                 else line for line in lines]
    for key, value in (settings or {}).items():
        wanted = "%s%s%s" % (key, separator, value)
        pattern = re.compile(_KEY_LINE % re.escape(key))
        found = False
        for index, line in enumerate(lines):
            if pattern.match(line):
                lines[index] = "# " + line if found else wanted
                found = True
        if not found:
            lines.append(wanted)
    return "\n".join(lines) + "\n" if lines else ""


class Writer:
    def __init__(self, module: AnsibleModule):
        self.module = module
        self.check = module.check_mode
        self.updated: t.List[str] = []
        self.backups: t.Dict[str, str] = {}
        self.missing: t.List[str] = []
        self.diffs: t.List[t.Dict[str, t.Any]] = []

    def fail(self, path: str, msg: str, **kwargs: t.Any) -> None:
        self.module.fail_json(msg="%s: %s" % (path, msg), path=path, updated=self.updated, **kwargs)

    def attributes(self, entry: t.Dict[str, t.Any], changed: bool) -> bool:
        """Owner, group, mode; returns whether anything changed (recording the diff)."""
        path = entry["path"]
        args = self.module.load_file_common_arguments(
            {"path": path, "owner": entry.get("owner"), "group": entry.get("group"), "mode": entry.get("mode")})
        diff: t.Dict[str, t.Any] = {"before": {"path": path}, "after": {"path": path}}
        changed = self.module.set_fs_attributes_if_different(args, changed, diff=diff, expand=False)
        if len(diff["before"]) > 1:
            self.diffs.append(diff)
        return changed

    def content(self, entry: t.Dict[str, t.Any], new: bytes, old: t.Optional[bytes]) -> bool:
        """Replace a file's content when it differs (validated, backed up, atomically)."""
        path = entry["path"]
        if old == new:
            return False
        self.diffs.append({"before_header": path if old is not None else "%s (absent)" % path, "after_header": path,
                           "before": to_text(old or b"", errors="surrogate_or_strict"),
                           "after": to_text(new, errors="surrogate_or_strict")})
        if self.check:
            return True
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            self.fail(path, "folder %s does not exist (list it first with state=directory)" % folder)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".%s." % os.path.basename(path))
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(new)
            if entry.get("mode"):
                os.chmod(tmp, int(entry["mode"], 8))
            if entry.get("validate"):
                if "%s" not in entry["validate"]:
                    self.fail(path, "validate must contain %%s, got %r" % entry["validate"])
                argv = [part.replace("%s", tmp) for part in shlex.split(entry["validate"])]
                rc, out, err = self.module.run_command(argv)
                if rc != 0:
                    self.fail(path, "validation with %r failed (rc %d): %s" % (entry["validate"], rc, (err or out).strip()),
                              rc=rc, stdout=out, stderr=err)
            if entry.get("backup") and old is not None:
                self.backups[path] = self.module.backup_local(path)
            self.module.atomic_move(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return True

    def apply(self, entry: t.Dict[str, t.Any]) -> None:
        path, state = entry["path"], entry["state"]
        exists = os.path.lexists(path)
        changed = False
        if state == "directory":
            if exists and not os.path.isdir(path):
                self.fail(path, "exists and is not a folder")
            if not exists:
                self.diffs.append({"before": {"path": path, "state": "absent"}, "after": {"path": path, "state": "directory"}})
                changed = True
                if not self.check:
                    os.mkdir(path, int(entry["mode"], 8))
            if exists or not self.check:
                changed = self.attributes(entry, changed)
        elif state == "file":
            if exists and not os.path.isfile(path):
                self.fail(path, "exists and is not a regular file")
            old = self._read(path) if exists else None
            changed = self.content(entry, to_bytes(entry["content"], errors="surrogate_or_strict"), old)
            if exists or not self.check:
                changed = self.attributes(entry, changed)
        elif state == "edit":
            if not os.path.isfile(path):
                if self.check:
                    self.missing.append(path)
                    return
                self.fail(path, "missing: state=edit changes an existing file")
            old = self._read(path)
            text = to_text(old, errors="surrogate_or_strict")
            new = edit_text(text, entry.get("set"), entry["separator"], entry.get("comment_out"))
            changed = self.content(entry, to_bytes(new, errors="surrogate_or_strict"), old)
            changed = self.attributes(entry, changed)
        elif state == "attributes":
            if not exists:
                self.missing.append(path)
                return
            changed = self.attributes(entry, False)
        elif state == "absent":
            if exists:
                if os.path.isdir(path) and not os.path.islink(path):
                    self.fail(path, "is a folder: state=absent removes files only")
                self.diffs.append({"before": {"path": path, "state": "file"}, "after": {"path": path, "state": "absent"}})
                changed = True
                if not self.check:
                    os.unlink(path)
        if changed:
            self.updated.append(path)

    def _read(self, path: str) -> bytes:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as exc:
            self.fail(path, "cannot read: %s" % to_native(exc.strerror or exc))
            raise  # pragma: no cover  (fail_json exits)


def check_entry(module: AnsibleModule, index: int, entry: t.Dict[str, t.Any]) -> None:
    where = "files[%d] (%s)" % (index, entry["path"])
    if not os.path.isabs(entry["path"]):
        module.fail_json(msg="%s: path must be absolute" % where)
    state = entry["state"]
    if state == "file" and entry.get("content") is None:
        module.fail_json(msg="%s: content is required with state=file" % where)
    if state in ("file", "directory") and not entry.get("mode"):
        module.fail_json(msg="%s: mode is required with state=%s" % (where, state))
    if entry.get("mode") and not re.fullmatch(r"0?[0-7]{3,4}", entry["mode"]):
        module.fail_json(msg="%s: mode must be an octal string such as '0644', got %r" % (where, entry["mode"]))
    if state == "edit" and not (entry.get("set") or entry.get("comment_out")):
        module.fail_json(msg="%s: state=edit needs set or comment_out" % where)
    if state != "edit" and (entry.get("set") or entry.get("comment_out")):
        module.fail_json(msg="%s: set and comment_out go with state=edit" % where)
    if entry.get("comment_out"):
        try:
            re.compile(entry["comment_out"])
        except re.error as exc:
            module.fail_json(msg="%s: comment_out is not a regular expression: %s" % (where, exc))


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", required=True, options=dict(
                path=dict(type="path", required=True),
                state=dict(type="str", choices=["file", "directory", "edit", "attributes", "absent"], default="file"),
                content=dict(type="str"),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="str"),
                validate=dict(type="str"),
                backup=dict(type="bool", default=False),
                set=dict(type="dict"),
                separator=dict(type="str", default=" "),
                comment_out=dict(type="str"),
            )),
        ),
        supports_check_mode=True,
    )
    entries = module.params["files"]
    for index, entry in enumerate(entries):
        check_entry(module, index, entry)
    writer = Writer(module)
    for entry in entries:
        writer.apply(entry)
    result: t.Dict[str, t.Any] = dict(changed=bool(writer.updated), updated=writer.updated,
                                      backups=writer.backups, missing=writer.missing)
    if module._diff:
        result["diff"] = writer.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
