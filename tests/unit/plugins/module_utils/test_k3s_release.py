# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k3s_release.parse_checksums on a K3s release's sha256sum-amd64.txt, on files GNU sha256sum
and the bundle builder of the K3s test double write, and on what a broken mirror serves."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.k3s_release import ChecksumFileError, parse_checksums

HERE = os.path.dirname(__file__)
RELEASE_SUMS = os.path.join(HERE, "fixtures", "k3s", "sha256sum-amd64.txt")
REPO = os.environ.get("EDGEFLEET_REPO_ROOT") or os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
BUILD_BUNDLE = os.path.join(REPO, "tests", "doubles", "k3s", "build_bundle.py")
DIGEST = "197d4c62bcc2aae89ab1846f250b43129cf55814de05e6bc7efc6606a84168d8"
OTHER = "ab55a9d9e49965c11218aa7a6c7a89d927bfc256145f1b935fe214abe333515f"


def release_text() -> str:
    with open(RELEASE_SUMS, encoding="utf-8", newline="") as handle:
        return handle.read()


def test_the_release_file():
    assert parse_checksums(release_text()) == {
        "k3s": DIGEST,
        "k3s-airgap-images-amd64.tar": OTHER,
        "k3s-airgap-images-amd64.tar.gz": "3db71bf606f52fee78e89483530294641affefe9c4e8b56aabe1215bafa189a0",
        "k3s-airgap-images-amd64.tar.zst": "02ee64c59b169a5a4b62a927b4fca9150d649a4ec57e71fd3125852f43ae90d7",
        "k3s-images.txt": "4dccd7d813a7fdec9e0bb9636f1a66b86ba257b9e38af7f12e6e7a2ad96772aa",
    }


def test_the_release_file_as_bytes_with_crlf_and_blank_lines():
    text = "\n" + release_text().replace("\n", "\r\n") + "\r\n   \n"
    assert parse_checksums(text.encode()) == parse_checksums(release_text())


def test_binary_mode_upper_case_and_trailing_blanks():
    text = "%s *k3s\n%s  k3s-airgap-images-amd64.tar.zst \t\n" % (DIGEST.upper(), OTHER)
    assert parse_checksums(text) == {"k3s": DIGEST, "k3s-airgap-images-amd64.tar.zst": OTHER}


def test_a_name_with_blanks_inside():
    assert parse_checksums("%s  my images.tar\n" % DIGEST) == {"my images.tar": DIGEST}


def test_an_empty_file_lists_nothing():
    # Which artifacts must be listed is the caller's rule (the k3s role names the missing ones).
    assert parse_checksums("") == {}
    assert parse_checksums("\n\n") == {}


def test_a_name_listed_twice_with_the_same_digest():
    assert parse_checksums("%s  k3s\n%s *k3s\n" % (DIGEST, DIGEST)) == {"k3s": DIGEST}


@pytest.mark.parametrize("line", [
    "<!DOCTYPE html>",                                    # a mirror's error page served with 200
    "SHA256 (k3s) = %s" % DIGEST,                          # BSD layout (sha256sum --tag)
    "%s k3s" % DIGEST,                                     # one blank: not what sha256sum writes
    "%s\tk3s" % DIGEST,
    "%s  " % DIGEST,                                       # no name
    "%s  k3s" % DIGEST[:-1],                               # 63 digits
    "%s0  k3s" % DIGEST,                                   # 65 digits
    "%s  k3s" % ("g" + DIGEST[1:]),                        # not hex
    "\\%s  k3s\\nnext" % DIGEST,                           # sha256sum's escaped names are not K3s assets
    "  %s  k3s" % DIGEST,
])
def test_malformed_lines_are_refused_naming_source_and_line(line):
    text = "%s  k3s-images.txt\n\n%s\n" % (OTHER, line)
    with pytest.raises(ChecksumFileError) as info:
        parse_checksums(text, source="/srv/bundle/sha256sum-amd64.txt")
    assert str(info.value) == "/srv/bundle/sha256sum-amd64.txt line 3 is not '<sha256>  <file name>': %r" % line


def test_a_long_bad_line_is_cut_in_the_message():
    line = "<html><body>" + "x" * 500
    with pytest.raises(ChecksumFileError) as info:
        parse_checksums(line)
    assert str(info.value) == "checksum file line 1 is not '<sha256>  <file name>': %r" % (line[:80] + "...")


def test_a_name_listed_twice_with_another_digest_is_refused():
    with pytest.raises(ChecksumFileError) as info:
        parse_checksums("%s  k3s\n%s  k3s\n" % (DIGEST, OTHER), source="sha256sum-amd64.txt")
    assert str(info.value) == "sha256sum-amd64.txt line 2 lists k3s again with another sha256 (%s, before %s)" % (
        OTHER, DIGEST)


@pytest.mark.parametrize("given, kind", [(None, "NoneType"), (["a"], "list"), ({"k3s": DIGEST}, "dict")])
def test_the_text_is_required(given, kind):
    with pytest.raises(ChecksumFileError, match="x.txt: the text of a sha256sum file is required, got %s" % kind):
        parse_checksums(given, source="x.txt")


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="GNU coreutils sha256sum not installed")
@pytest.mark.parametrize("mode", ["--text", "--binary"])
def test_what_gnu_sha256sum_writes(tmp_path, mode):
    names = ["k3s", "k3s-airgap-images-amd64.tar.gz", "k3s-airgap-images-amd64.tar.zst"]
    for index, name in enumerate(names):
        (tmp_path / name).write_bytes(b"artifact %d" % index)
    written = subprocess.run(["sha256sum", mode] + names, cwd=tmp_path, capture_output=True, text=True, check=True)
    expected = dict((name, hashlib.sha256(b"artifact %d" % index).hexdigest()) for index, name in enumerate(names))
    assert parse_checksums(written.stdout) == expected
    # and sha256sum itself accepts the release fixture's layout
    (tmp_path / "sums.txt").write_text("".join("%s  %s\n" % (expected[n], n) for n in names))
    subprocess.run(["sha256sum", "--check", "--strict", "sums.txt"], cwd=tmp_path, capture_output=True, check=True)


def test_what_the_bundle_builder_of_the_k3s_double_writes(tmp_path):
    subprocess.run([sys.executable, BUILD_BUNDLE, "--version", "v1.31.4+k3s1", "--out", str(tmp_path), "--arch", "arm64"],
                   capture_output=True, check=True)
    text = (tmp_path / "sha256sum-arm64.txt").read_text()
    expected = dict((name, hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
                    for name in ("k3s-arm64", "k3s-airgap-images-arm64.tar.gz"))
    assert parse_checksums(text) == expected
