# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host observer of the hardening audit: reads a host, once per thing.

:class:`Host` runs each command once and caches it (one ``sshd -T`` for all sshd controls, one
``systemctl show`` for all units, one ``nft -j list table`` per table...), reads files under
``root`` (the unit tests point it at a fake tree) and runs commands through the callables it is
given (the module passes ``run_command`` and ``get_bin_path``). What cannot be observed raises
:class:`Unobservable` with the status the control gets. It never changes the host.
"""

from __future__ import annotations

import glob
import grp
import json
import os
import pwd
import stat
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_evaluators import (
    FAIL,
    NOT_APPLICABLE,
    os_family_of,
    parse_apt_dump,
    parse_apt_policy,
    parse_apt_sources,
    parse_audit_keys,
    parse_dpkg_filters,
    parse_dpkg_verify,
    parse_os_release,
    parse_pam_line,
    parse_proc_modules,
    parse_proc_mounts,
    parse_sshd_t,
    parse_systemctl_show,
)

Runner = t.Callable[[t.List[str]], t.Tuple[int, str, str]]
Which = t.Callable[[str], t.Optional[str]]


class Unobservable(Exception):
    """The state a control needs cannot be observed; carries the resulting status."""

    def __init__(self, status: str, reason: str, observed: t.Any = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.observed = observed


CONTAINER_MARKERS = ("run/.containerenv", ".dockerenv")


class Host:
    """Observes a host, once per thing. Files under ``root``; commands through ``run``."""

    def __init__(self, run: Runner, which: Which, root: str = "/"):
        self._run = run
        self._which = which
        self.root = root
        self._cache: t.Dict[t.Any, t.Tuple[bool, t.Any]] = {}
        self.commands: t.List[t.List[str]] = []  # what ran, for tests and debugging
        self.service_units: t.List[str] = []  # every unit the service controls name (one systemctl call)

    def path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.path(path))

    def _once(self, key: t.Any, fn: t.Callable[[], t.Any]) -> t.Any:
        if key not in self._cache:
            try:
                self._cache[key] = (True, fn())
            except Unobservable as exc:
                self._cache[key] = (False, exc)
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    def run(self, argv: t.List[str]) -> t.Tuple[int, str, str]:
        self.commands.append(list(argv))
        return self._run(argv)

    def binary(self, name: str, missing_status: str = FAIL, hint: str = "") -> str:
        found = self._which(name)
        if not found:
            raise Unobservable(missing_status, "%s not found%s" % (name, hint))
        return found

    def read(self, path: str) -> t.Optional[str]:
        """A file's text (None when missing); cached."""
        def read() -> t.Optional[str]:
            try:
                with open(self.path(path), "rb") as handle:
                    return handle.read().decode("utf-8", errors="replace")
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise Unobservable(FAIL, "cannot read %s: %s" % (path, exc.strerror or exc)) from None
        return self._once(("read", path), read)

    def is_container(self) -> bool:
        if any(self.exists(m) for m in CONTAINER_MARKERS):
            return True
        try:
            with open(self.path("/proc/1/environ"), "rb") as handle:
                return any(v.startswith(b"container=") for v in handle.read().split(b"\0"))
        except OSError:
            return False

    def os_family(self) -> str:
        text = self.read("/etc/os-release") or self.read("/usr/lib/os-release") or ""
        family = os_family_of(parse_os_release(text))
        if family is None:
            raise Unobservable(FAIL, "OS family unknown (/etc/os-release: %s)" % _first_line(text))
        return family

    def mounted_fstypes(self) -> t.List[str]:
        return parse_proc_mounts(self.read("/proc/mounts") or "")

    # one observation per check type

    def sshd_settings(self) -> t.Dict[str, t.List[str]]:
        def observe() -> t.Dict[str, t.List[str]]:
            sshd = self.binary("sshd", NOT_APPLICABLE, " (OpenSSH server not installed)")
            rc, out, err = self.run([sshd, "-T"])
            if rc != 0:
                raise Unobservable(FAIL, "sshd -T failed: %s" % _first_line(err or out))
            return parse_sshd_t(out)
        return self._once("sshd", observe)

    def sysctl(self, key: str) -> str:
        proc = "/proc/sys/" + (key if "/" in key else key.replace(".", "/"))
        value = self.read(proc)
        if value is None:
            raise Unobservable(NOT_APPLICABLE, "not in this kernel")
        return value

    def loaded_modules(self) -> t.Set[str]:
        return parse_proc_modules(self.read("/proc/modules") or "")

    def modprobe_dry_run(self, module: str) -> t.Tuple[t.Tuple[int, str, str], t.Optional[str]]:
        """``modprobe -n -v <module>`` and, when modprobe cannot find it, ``modprobe --showconfig``."""
        modprobe = self.binary("modprobe", FAIL, " (kmod not installed)")
        dry = self._once(("modprobe-n", module), lambda: self.run([modprobe, "-n", "-v", module]))
        showconfig = None
        if dry[0] != 0:
            showconfig = self._once("showconfig", lambda: self._showconfig(modprobe))
        return dry, showconfig

    def _showconfig(self, modprobe: str) -> str:
        rc, out, err = self.run([modprobe, "--showconfig"])
        if rc != 0:
            raise Unobservable(FAIL, "modprobe --showconfig failed: %s" % _first_line(err or out))
        return out

    def stat(self, path: str) -> t.Dict[str, t.Any]:
        try:
            st = os.stat(self.path(path))
        except FileNotFoundError:
            raise Unobservable(FAIL, "%s missing" % path) from None
        except OSError as exc:
            raise Unobservable(FAIL, "cannot stat %s: %s" % (path, exc.strerror or exc)) from None
        return {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                "owner": _user(st.st_uid), "group": _group(st.st_gid)}

    def services(self, units: t.List[str]) -> t.Dict[str, t.Any]:
        """Unit -> properties (or Unobservable) for all units, in one systemctl call."""
        def observe() -> t.Dict[str, t.Any]:
            systemctl = self.binary("systemctl")
            argv = [systemctl, "show", "-p", "LoadState,ActiveState,UnitFileState", "--"]
            rc, out, err = self.run(argv + units)
            blocks = parse_systemctl_show(out)
            if rc == 0 and len(blocks) == len(units):
                return dict(zip(units, blocks))
            result: t.Dict[str, t.Any] = {}
            for unit in units:  # isolate the unit systemctl refused
                rc, out, err = self.run(argv + [unit])
                blocks = parse_systemctl_show(out)
                result[unit] = blocks[0] if rc == 0 and len(blocks) == 1 else Unobservable(
                    FAIL, "systemctl show failed: %s" % _first_line(err or out))
            return result
        return self._once(("services", tuple(units)), observe)

    def nft_table(self, family: str, table: str) -> t.Dict[str, t.Any]:
        def observe() -> t.Dict[str, t.Any]:
            nft = self.binary("nft", FAIL, " (nftables not installed)")
            rc, out, err = self.run([nft, "-j", "list", "table", family, table])
            if rc != 0:
                if "No such file or directory" in err:
                    raise Unobservable(FAIL, "table %s %s not found" % (family, table))
                raise Unobservable(FAIL, "nft failed: %s" % _first_line(err or out))
            try:
                return json.loads(out)
            except ValueError as exc:
                raise Unobservable(FAIL, "nft -j output is not JSON: %s" % exc) from None
        return self._once(("nft", family, table), observe)

    def config_files(self, path: str, include: t.Optional[str]) -> t.List[t.Tuple[str, str]]:
        text = self.read(path)
        if text is None:
            raise Unobservable(FAIL, "%s missing" % path)
        files = [(path, text)]
        if include:
            for found in sorted(glob.glob(self.path(include))):
                name = "/" + os.path.relpath(found, self.root) if self.root != "/" else found
                if os.path.isfile(found):
                    files.append((name, self.read(name) or ""))
        return files

    def cat_config(self, config: str) -> str:
        def observe() -> str:
            analyze = self.binary("systemd-analyze", FAIL, " (not a systemd host)")
            rc, out, err = self.run([analyze, "cat-config", config])
            if rc != 0:
                raise Unobservable(FAIL, "systemd-analyze cat-config %s failed: %s" % (config, _first_line(err or out)))
            return out
        return self._once(("cat-config", config), observe)

    def apt_config(self) -> t.Dict[str, str]:
        def observe() -> t.Dict[str, str]:
            apt_config = self.binary("apt-config", NOT_APPLICABLE, " (not an APT system)")
            rc, out, err = self.run([apt_config, "dump"])
            if rc != 0:
                raise Unobservable(FAIL, "apt-config dump failed: %s" % _first_line(err or out))
            return parse_apt_dump(out)
        return self._once("apt-config", observe)

    def pam_entries(self, path: str, depth: int = 0) -> t.List[t.Tuple[str, str, t.Dict[str, str]]]:
        text = self.read(path)
        if text is None:
            raise Unobservable(FAIL, "%s missing" % path)
        entries = []
        for raw in text.splitlines():
            entry = parse_pam_line(raw)
            if entry is None:
                continue
            if entry["control"] in ("include", "substack") and depth < 8:
                target = entry["module"]
                target = target if target.startswith("/") else os.path.join(os.path.dirname(path), target)
                try:
                    entries.extend(self.pam_entries(target, depth + 1))
                except Unobservable:
                    pass  # PAM skips a missing include too
                continue
            entries.append((path, raw, entry))
        return entries

    def audit_keys(self) -> t.List[str]:
        def observe() -> t.List[str]:
            auditctl = self.binary("auditctl", FAIL, " (auditd not installed)")
            rc, out, err = self.run([auditctl, "-l"])
            if rc != 0:
                raise Unobservable(FAIL, "auditctl -l: %s" % _first_line(err or out))
            return parse_audit_keys(out)
        return self._once("auditctl", observe)

    def limits_files(self) -> t.List[t.Tuple[str, str]]:
        def observe() -> t.List[t.Tuple[str, str]]:
            files = []
            main = self.read("/etc/security/limits.conf")
            if main is not None:
                files.append(("/etc/security/limits.conf", main))
            for found in sorted(glob.glob(self.path("/etc/security/limits.d/*.conf"))):
                name = "/etc/security/limits.d/" + os.path.basename(found)
                files.append((name, self.read(name) or ""))
            return files
        return self._once("limits", observe)

    def package_files(self) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[t.Tuple[str, str]]]:
        """``dpkg --verify`` of every installed package, and the path filters of dpkg's configuration."""
        def observe() -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[t.Tuple[str, str]]]:
            dpkg = self.binary("dpkg", NOT_APPLICABLE, " (not a dpkg system)")
            rc, out, err = self.run([dpkg, "--verify"])
            if rc != 0 and not out:
                raise Unobservable(FAIL, "dpkg --verify failed: %s" % _first_line(err))
            config = [self.read("/etc/dpkg/dpkg.cfg") or ""]
            for found in sorted(glob.glob(self.path("/etc/dpkg/dpkg.cfg.d/*"))):
                if os.path.isfile(found):
                    config.append(self.read("/etc/dpkg/dpkg.cfg.d/" + os.path.basename(found)) or "")
            return parse_dpkg_verify(out), parse_dpkg_filters("\n".join(config))
        return self._once("dpkg-verify", observe)

    def apt_policy(self) -> t.List[t.Dict[str, str]]:
        def observe() -> t.List[t.Dict[str, str]]:
            apt_cache = self.binary("apt-cache", NOT_APPLICABLE, " (not an APT system)")
            rc, out, err = self.run([apt_cache, "policy"])
            if rc != 0:
                raise Unobservable(FAIL, "apt-cache policy failed: %s" % _first_line(err or out))
            return parse_apt_policy(out)
        return self._once("apt-policy", observe)

    def apt_sources(self, ignore: t.Iterable[str] = ()) -> t.Dict[str, t.List[str]]:
        """File -> suites of the APT sources (sources.list, sources.list.d/*.list and *.sources)."""
        ignore = set(ignore)
        found: t.Dict[str, t.List[str]] = {}
        names = ["/etc/apt/sources.list"] + ["/etc/apt/sources.list.d/" + os.path.basename(f) for f in sorted(
            glob.glob(self.path("/etc/apt/sources.list.d/*.list")) + glob.glob(self.path("/etc/apt/sources.list.d/*.sources")))]
        for name in names:
            text = None if name in ignore else self.read(name)
            if text is not None:
                found[name] = parse_apt_sources(text, deb822=name.endswith(".sources"))
        return found


def _first_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
