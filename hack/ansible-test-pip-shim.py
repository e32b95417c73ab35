"""Pre-seed ansible-test's get-pip cache with an offline-capable replacement.

ansible-test creates one virtual environment per sanity test with
``python -m venv --without-pip`` and bootstraps pip into it by running
``get-pip-<version>.py`` downloaded from ci-files.testing.ansible.com, a host
this network cannot reach. Before downloading it looks for
``~/.ansible/test/cache/get_pip_<version with '.' -> '_'>.py``; this script puts
a replacement there that uses ``ensurepip`` and then installs the exact pip
version ansible-test wants from the package index configured on the machine.

Run it with the interpreter that runs ansible-test (``.venv/bin/python``; no
shebang, which ansible-test's shebang sanity test rejects here): the
pip version and cache file name are read from that ansible-test installation.
Idempotent: the file is only rewritten when its content would change.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

# The replacement get-pip script. ansible-test runs it (through its
# quiet_pip.py wrapper) as: python get_pip_X_Y.py --disable-pip-version-check
# pip==X.Y [--no-setuptools] [--no-wheel]; i.e. the arguments of the real
# get-pip.py, which are pip-install arguments plus get-pip's own flags.
SHIM = r'''"""Offline replacement for get-pip.py, installed by edgefleet.platform hack/ansible-test-pip-shim.py."""
import os
import subprocess
import sys

PIP_VERSION = @PIP_VERSION@


def main():
    # get-pip.py-only flags; everything else is passed on to pip install.
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    if not any(a.split('==')[0].strip().lower() == 'pip' for a in args if not a.startswith('-')):
        args.append('pip==' + PIP_VERSION)

    # Seed a pip from the wheel bundled with this Python (no network needed).
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])

    # ensurepip runs its bundled pip with PIP_CONFIG_FILE=/dev/null; when that
    # value reaches this process (an in-process ensurepip.bootstrap() by a
    # caller, or an inherited environment) the machine's pip.conf (index,
    # certificates, local wheel mirrors) is ignored and the install below
    # cannot reach an index. Drop it so pip reads the normal config files.
    env = dict(os.environ)
    env.pop('PIP_CONFIG_FILE', None)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + args, env=env)


if __name__ == '__main__':
    main()
'''


def wanted_pip_version() -> str:
    """Return the pip version ansible-test bootstraps for this Python."""
    version = '%d.%d' % sys.version_info[:2]
    try:
        from ansible_test._internal.python_requirements import get_venv_packages
    except ImportError as ex:
        sys.exit(f'ansible-test-pip-shim: cannot import ansible-test ({ex}); run this with .venv/bin/python')
    # get_venv_packages() only reads python.version (per-version overrides).
    return get_venv_packages(SimpleNamespace(version=version))['pip']


def cache_path(pip_version: str) -> Path:
    """Return the cache path ansible-test checks, read from its own source so a renamed cache fails loudly here."""
    import ansible_test

    source = Path(ansible_test.__file__).parent / '_util' / 'target' / 'setup' / 'requirements.py'
    match = re.search(r"""['"](~/[^'"]*get_pip_%s\.py)['"]\s*%\s*pip_version\.replace\(['"]\.['"],\s*['"]_['"]\)""", source.read_text())
    if not match:
        sys.exit(f'ansible-test-pip-shim: could not find the get-pip cache path in {source}; ansible-test changed, update this script')
    return Path(os.path.expanduser(match.group(1) % pip_version.replace('.', '_')))


def main() -> None:
    pip_version = wanted_pip_version()
    path = cache_path(pip_version)
    content = SHIM.replace('@PIP_VERSION@', repr(pip_version))
    if path.is_file() and path.read_text() == content:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    tmp.write_text(content)
    tmp.replace(path)  # atomic: a concurrent ansible-test never sees half a file
    print(f'ansible-test-pip-shim: wrote {path} (pip {pip_version})', file=sys.stderr)


if __name__ == '__main__':
    main()
