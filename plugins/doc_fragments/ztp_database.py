# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # For modules: the option falls back to the environment variable.
    DOCUMENTATION = r"""
options:
  database:
    description:
      - URL of the ZTP database.
      - V(sqlite:///abs/path/ztp.db) for SQLite (the default engine; the file is created with mode 0600
        when missing) or V(postgresql://user:password@host:port/dbname) for PostgreSQL (needs the
        Python package C(psycopg) 3.x on the host that runs the module).
      - When not set, the environment variable E(EDGEFLEET_ZTP_DB) is used.
      - The URL is treated as a secret and never appears in output; messages show it with the password
        replaced.
      - Opening a database applies pending schema migrations; a database written by a newer
        collection is refused.
    type: str
    required: false
notes:
  - "The ZTP modules run where the database is reachable, usually on the controller with
    C(delegate_to: localhost) or in a play on C(localhost)."
  - All ZTP modules belong to the action group C(edgefleet.platform.ztp), so the database can be set
    once with C(module_defaults).
"""

    # For plugins (inventory): the same option, read from the environment too.
    PLUGIN = r"""
options:
  database:
    description:
      - URL of the ZTP database.
      - V(sqlite:///abs/path/ztp.db) for SQLite or V(postgresql://user:password@host:port/dbname) for
        PostgreSQL (needs the Python package C(psycopg) 3.x on the controller).
      - May hold a template using C(inventory_dir) (the folder of the inventory file) and
        C(inventory_file), for example V(sqlite:///{{ inventory_dir }}/ztp.db).
      - Messages show the URL with the password replaced.
    type: str
    required: true
    env:
      - name: EDGEFLEET_ZTP_DB
"""
