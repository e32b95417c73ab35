# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a K3s air-gap bundle folder around the K3s TEST DOUBLE (k3s_double.py), for Molecule only.

    python3 tests/doubles/k3s/build_bundle.py --version v1.31.4+k3s1 --out DIR [--arch amd64|arm64]

writes, with the names of K3s release assets:
    k3s (k3s-arm64)                    the double with the version baked in, 0755
    k3s-airgap-images-<arch>.tar.gz    a small image tarball in `docker save` layout (no real images)
    sha256sum-<arch>.txt               "<sha256>  <name>" for both files
The same arguments give the same bytes (no timestamps, owners or gzip names), so a role that
compares checksums sees "no change" on a rebuild and "changed" on a new version.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)\+k3s(\d+)$")
VERSION_LINE = re.compile(r'^VERSION = "[^"]*"', re.M)


def binary(version):
    with open(os.path.join(HERE, "k3s_double.py"), encoding="utf-8") as handle:
        source = handle.read()
    source, count = VERSION_LINE.subn('VERSION = "%s"' % version, source)
    if count != 1:
        raise SystemExit("build_bundle: k3s_double.py must have exactly one VERSION line, found %d" % count)
    # The lab's Debian images have python3 but no `python`.
    lines = source.split("\n", 1)
    return ("#!/usr/bin/env python3\n" + lines[1]).encode()


def images_tarball(version, arch):
    """A `docker save` shaped archive naming the images K3s ships; layers are empty, nothing can run from it."""
    images = ["docker.io/rancher/mirrored-pause:3.6", "docker.io/rancher/mirrored-coredns-coredns:1.11.3",
              "docker.io/rancher/local-path-provisioner:v0.0.30", "docker.io/rancher/klipper-helm:v0.9.3-build20241008"]
    members = {
        "manifest.json": json.dumps([{"Config": "config.json", "RepoTags": images, "Layers": []}], indent=1),
        "config.json": json.dumps({"architecture": arch, "os": "linux",
                                   "config": {"Labels": {"io.edgefleet.test-double": "true", "k3s.version": version}}}),
        "EDGEFLEET-TEST-DOUBLE.txt": "Not real images: built by tests/doubles/k3s/build_bundle.py for %s.\n" % version,
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(members):
            data = members[name].encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def write(path, data, mode):
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def build(version, out, arch="amd64"):
    """Write the bundle into `out`; returns {file name: sha256}."""
    if not VERSION_RE.match(version):
        raise SystemExit("build_bundle: version %r is not like v1.31.4+k3s1" % version)
    os.makedirs(out, exist_ok=True)
    files = {
        "k3s" if arch == "amd64" else "k3s-" + arch: (binary(version), 0o755),
        "k3s-airgap-images-%s.tar.gz" % arch: (images_tarball(version, arch), 0o644),
    }
    sums = {}
    for name, (data, mode) in files.items():
        write(os.path.join(out, name), data, mode)
        sums[name] = hashlib.sha256(data).hexdigest()
    write(os.path.join(out, "sha256sum-%s.txt" % arch),
          "".join("%s  %s\n" % (sums[n], n) for n in sorted(sums)).encode(), 0o644)
    return sums


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--version", required=True, help="K3s version to bake in, e.g. v1.31.4+k3s1")
    parser.add_argument("--out", required=True, help="bundle folder (created if missing)")
    parser.add_argument("--arch", default="amd64", choices=("amd64", "arm64"))
    args = parser.parse_args(argv)
    for name, digest in sorted(build(args.version, args.out, args.arch).items()):
        print("%s  %s" % (digest, os.path.join(args.out, name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
