# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ztp
short_description: Industrial PCs of the ZTP database as inventory
version_added: 0.1.0
description:
  - Reads the devices of the edgefleet ZTP database (SQLite or PostgreSQL) and groups them by site,
    region, cluster, topology, site kind, node role, platform, OS family and lifecycle state.
  - The inventory host name is the device's hostname; every device field is a host variable prefixed
    C(ztp_); C(ansible_host) is the management IP; Windows devices get WinRM connection variables.
  - A string read from the database that could hold a template (a brace, or a C(#jinja2:) header) is
    left untrusted, so a label holding C({{ ... }}) is returned literally and never templated. Every
    other string is marked trusted, as there is nothing in it to template.
  - C(ansible-inventory --list --export), which AWX and Automation Controller run to import an inventory
    source, therefore prints plain values as plain JSON strings. A value that could hold a template is
    printed wrapped in an C(__ansible_unsafe) mapping on purpose; AWX stores it so and passes it to its jobs
    through an inventory script, where ansible-core reads it as untrusted again. Printed as a plain
    string it would be trusted there and templated.
  - The database is read with a fixed number of queries per parse, whatever the number of devices.
  - The device's site's outbound proxy is C(ztp_site_proxy) (C(https_proxy), C(http_proxy), C(no_proxy); V({}) when the
    site has none); the cloud stage's agents use it.
  - The cloud circuit breakers of each device's site are host variables too, C(ztp_cloud_breakers) (per
    cloud dependency its C(state), C(failures), C(opened_at), C(next_retry) and C(last_error)),
    C(ztp_cloud_state) (V(open) if any breaker of the site is open, else V(half_open) if one is, else
    V(closed)) and C(ztp_cloud_next_retry); devices of a site with an open breaker are in the group
    C(cloud_breaker_open).
  - Configuration files must be named C(*.ztp.yml) or C(*.ztp.yaml) (or C(ztp.yml)/C(ztp.yaml)).
author:
  - Edgefleet platform team (@edgefleet)
requirements:
  - psycopg >= 3.1 for PostgreSQL URLs
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - edgefleet.platform.ztp_database.plugin
options:
  plugin:
    description: Marks the file as a configuration of this plugin.
    type: str
    required: true
    choices: [edgefleet.platform.ztp]
  sites:
    description: Only devices of these sites.
    type: list
    elements: str
    default: []
  regions:
    description: Only devices of these regions.
    type: list
    elements: str
    default: []
  states:
    description: Only devices in these lifecycle states.
    type: list
    elements: str
    default: []
  include_decommissioned:
    description: Include decommissioned devices (left out by default unless O(states) names them).
    type: bool
    default: false
  windows_connection_vars:
    description: Host variables given to devices whose OS family is windows.
    type: dict
    default:
      ansible_connection: winrm
      ansible_port: 5986
      ansible_winrm_scheme: https
      ansible_winrm_transport: ntlm
"""

EXAMPLES = r"""
# fleet.ztp.yml: every device, the database URL from EDGEFLEET_ZTP_DB
plugin: edgefleet.platform.ztp
---
# plant-a.ztp.yml: one site, a PostgreSQL database, cached for an hour
plugin: edgefleet.platform.ztp
database: postgresql://ztp_reader:secret@ztp-db.example.com:5432/ztp
sites: [plant-a]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /var/cache/ansible/ztp
cache_timeout: 3600
---
# lab.ztp.yml: a SQLite file relative to this inventory file
plugin: edgefleet.platform.ztp
database: "sqlite:///{{ inventory_dir }}/../../.lab/ztp.db"
---
# failed.ztp.yml: devices that need attention, grouped by the stage that failed
plugin: edgefleet.platform.ztp
database: sqlite:////srv/ztp/ztp.db
states: [failed]
keyed_groups:
  - key: ztp_failed_stage
    prefix: failed
compose:
  ansible_user: "'admin' if ztp_os_family == 'windows' else 'edge'"
"""

import hashlib
import json
import os
import typing as t

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_breakers import breakers as read_breakers
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import (
    ZtpDatabaseError,
    ZtpError,
    ZtpStore,
    redact_url,
    scrub,
)
from ansible_collections.edgefleet.platform.plugins.plugin_utils.unsafe import trust_plain

# device field -> host variable (without the ztp_ prefix: same name)
_FIELDS = ("serial", "mac", "macs", "hostname", "site", "region", "cluster", "topology", "kind",
           "connectivity", "platform", "role", "os_family", "ip", "state", "failed_stage",
           "failure_reason", "labels", "storage", "cluster_workloads", "revision", "created_at", "updated_at",
           "state_changed_at", "site_proxy")
_HARDWARE = ("cpu_cores", "memory_mb", "disk_gb", "disk_type")
# group prefix -> device field; kind (edge/hub) groups are named by the value alone
_GROUPS = (("site", "site"), ("region", "region"), ("cluster", "cluster"), ("topology", "topology"),
           ("role", "role"), ("platform", "platform"), ("os", "os_family"), ("state", "state"))


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "edgefleet.platform.ztp"

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        return path.endswith((".ztp.yml", ".ztp.yaml", "/ztp.yml", "/ztp.yaml")) or path in ("ztp.yml", "ztp.yaml")

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        url = self._database_url(path)
        filters = dict(site=self.get_option("sites"), region=self.get_option("regions"),
                       state=self.get_option("states"),
                       include_decommissioned=self.get_option("include_decommissioned"))
        # The key covers the database and the filters: two files on two databases
        # (or two sites of one) never share a cache entry.
        digest = hashlib.sha256(json.dumps([url, filters], sort_keys=True).encode("utf-8")).hexdigest()[:16]
        cache_key = "%s_%s" % (self.get_cache_key(path), digest)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        data = None
        if use_cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if not isinstance(data, dict):  # nothing cached, or a cache written before the breakers
            data = self._fetch(url, filters)
            update_cache = update_cache or use_cache
        if update_cache:
            self._cache[cache_key] = data
        self._populate(data["devices"], data["breakers"])

    def _database_url(self, path):
        """The database option; a template in it sees inventory_dir, so a lab or
        project can keep its SQLite file next to the inventory."""
        url = self.get_option("database")
        if isinstance(url, str) and "{{" in url:
            config = os.path.abspath(path)
            templar = self.templar.copy_with_new_env(
                available_variables={"inventory_dir": os.path.dirname(config), "inventory_file": config})
            url = templar.template(url)
        return url

    def _fetch(self, url, filters):
        try:
            with ZtpStore(url, create=False) as store:
                devices = store.devices(with_facts=False, **filters)
                return {"devices": devices, "breakers": read_breakers(store, sorted(set(d["site"] for d in devices)))}
        except (ZtpDatabaseError, ZtpError) as exc:
            raise AnsibleParserError("edgefleet.platform.ztp: %s" % exc) from None
        except Exception as exc:
            raise AnsibleParserError(
                "edgefleet.platform.ztp: reading %s failed: %s" % (redact_url(url), scrub(str(exc), url))) from None

    def _populate(self, devices, breakers=()):
        strict = self.get_option("strict")
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed = self.get_option("keyed_groups")
        windows_vars = self.get_option("windows_connection_vars")
        known_groups: dict = {}
        memo: dict = {}
        inventory = t.cast(t.Any, self.inventory)  # set by BaseInventoryPlugin.parse
        by_site = cloud_vars(breakers)
        for device in devices:
            hostvars = host_vars(device, windows_vars, memo)
            hostvars.update(trust_plain(by_site.get(device["site"]) or cloud_vars_closed(), memo))
            host = inventory.add_host(hostvars["ztp_hostname"])
            for key, value in hostvars.items():
                inventory.set_variable(host, key, value)
            for name in group_names(device) + (["cloud_breaker_open"] if hostvars["ztp_cloud_state"] == "open" else []):
                group = known_groups.get(name)
                if group is None:
                    group = known_groups[name] = inventory.add_group(self._sanitize_group_name(name))
                inventory.add_child(group, host)
            # Our vars are complete, so the constructed features need not merge hostvars again.
            if compose:
                self._set_composite_vars(compose, hostvars, host, strict=strict)
            if groups:
                self._add_host_to_composed_groups(groups, hostvars, host, strict=strict, fetch_hostvars=False)
            if keyed:
                self._add_host_to_keyed_groups(keyed, hostvars, host, strict=strict, fetch_hostvars=False)


def host_vars(device, windows_vars, memo=None):
    """The host variables of one device; only strings that cannot hold a template are trusted
    (`memo`: see trust_plain)."""
    hostvars = dict(("ztp_" + field, device.get(field)) for field in _FIELDS)
    hardware = device.get("hardware") or {}
    for field in _HARDWARE:
        hostvars["ztp_" + field] = hardware.get(field)
    if device.get("ip"):
        hostvars["ansible_host"] = device["ip"]
    if device.get("os_family") == "windows":
        hostvars.update(windows_vars or {})
    return trust_plain(hostvars, memo)


def cloud_vars_closed():
    return {"ztp_cloud_breakers": {}, "ztp_cloud_state": "closed", "ztp_cloud_next_retry": None}


def cloud_vars(breakers):
    """Per site: the ztp_cloud_* host variables of its breakers."""
    out: dict = {}
    rank = {"closed": 0, "half_open": 1, "open": 2}
    for rec in breakers:
        site = out.setdefault(rec["site"], cloud_vars_closed())
        keys = ("state", "failures", "opened_at", "next_retry", "last_error")
        site["ztp_cloud_breakers"][rec["dependency"]] = dict((k, rec[k]) for k in keys)
        if rank[rec["state"]] > rank[site["ztp_cloud_state"]]:
            site["ztp_cloud_state"] = rec["state"]
        if rec["state"] == "open" and (site["ztp_cloud_next_retry"] is None or rec["next_retry"] < site["ztp_cloud_next_retry"]):
            site["ztp_cloud_next_retry"] = rec["next_retry"]
    return out


def group_names(device):
    """Built-in groups of a device, before sanitising."""
    names = ["%s_%s" % (prefix, device[field]) for prefix, field in _GROUPS if device.get(field)]
    if device.get("kind"):
        names.append(device["kind"])
    return names
