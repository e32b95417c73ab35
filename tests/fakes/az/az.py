#!/usr/bin/env python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test double of the Azure CLI: only ``az account get-access-token``, as strict as az for it.

Link it as ``az`` in a directory first on PATH. The login is a fake profile in $AZURE_CONFIG_DIR (else ~/.azure):
azureProfile.json (what ``az login --service-principal`` writes: subscriptions, the default one,
user {name: client id, type: servicePrincipal}, tenantId) and, standing in for az's encrypted
service-principal store, fake_az_login.json {authority, ca, secret}. No subscriptions: the
"Please run 'az login'" error, exit 1. Else it signs in like az does for a service principal:
the client-credentials grant at {authority}/{tenant}/oauth2/v2.0/token (the fake ARM's), and
prints what az prints (accessToken, expiresOn in local time, expires_on, subscription, tenant,
tokenType). Errors and usage go to stderr with az's exit codes (1 error, 2 usage).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # az's usage errors: stderr, exit 2
        sys.stderr.write("ERROR: %s\n" % message)
        sys.exit(2)


def fail(message: str, code: int = 1) -> None:
    sys.stderr.write("ERROR: %s\n" % message)
    sys.exit(code)


def main(argv: list) -> None:
    if argv[:2] != ["account", "get-access-token"]:
        fail("this test double implements only 'az account get-access-token' (got %r)" % " ".join(argv[:2]), 2)
    parser = Parser(prog="az account get-access-token", add_help=False, allow_abbrev=False)
    parser.add_argument("--output", "-o", choices=["json", "jsonc", "none", "table", "tsv", "yaml", "yamlc"], default="json")
    parser.add_argument("--resource")
    parser.add_argument("--scope", nargs="+")
    parser.add_argument("--resource-type", choices=["aad-graph", "arm", "batch", "data-lake", "media", "ms-graph", "oss-rdbms"])
    parser.add_argument("--tenant", "-t")
    parser.add_argument("--subscription", "-s")
    args = parser.parse_args(argv[2:])
    if sum(1 for a in (args.resource, args.scope, args.resource_type) if a) > 1:
        fail("usage error: --resource/--resource-type/--scope are mutually exclusive", 2)
    if args.tenant and args.subscription:
        fail("usage error: --subscription and --tenant can't be used together", 2)
    if args.output != "json":
        fail("this test double prints json only", 2)
    if args.resource:
        parsed = urllib.parse.urlsplit(args.resource)
        if parsed.scheme != "https" or not parsed.netloc:
            fail("AADSTS500011: the resource principal named %s was not found in the tenant" % args.resource)
        scope = args.resource.rstrip("/") + "/.default"
    elif args.scope:
        if len(args.scope) != 1:
            fail("the fake signs in for one scope only")
        scope = args.scope[0]
    else:
        fail("the fake has no default resource: pass --resource or --scope", 2)

    config = os.environ.get("AZURE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".azure")
    try:
        with open(os.path.join(config, "azureProfile.json"), encoding="utf-8-sig") as fh:
            subscriptions = json.load(fh).get("subscriptions") or []
    except (OSError, ValueError):
        subscriptions = []
    if not subscriptions:
        fail("Please run 'az login' to setup account.")
    if args.subscription:
        chosen = [s for s in subscriptions if args.subscription in (s.get("id"), s.get("name"))]
        if not chosen:
            fail("Subscription '%s' not found. Check the spelling and casing and try again." % args.subscription)
    else:
        chosen = [s for s in subscriptions if s.get("isDefault")] or subscriptions[:1]
    sub = chosen[0]
    tenant = args.tenant or sub["tenantId"]
    with open(os.path.join(config, "fake_az_login.json"), encoding="utf-8") as fh:
        login = json.load(fh)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": sub["user"]["name"],
                                   "client_secret": login["secret"], "scope": scope}).encode()
    url = "%s/%s/oauth2/v2.0/token" % (login["authority"].rstrip("/"), tenant)
    try:
        with urllib.request.urlopen(url, data=form, timeout=10, context=ssl.create_default_context(cafile=login["ca"])) as resp:
            token = json.load(resp)
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        fail("%s: %s" % (body.get("error"), body.get("error_description")))
    except OSError as exc:
        fail("HTTPSConnectionPool: %s" % exc)
    expires = int(time.time()) + int(token["expires_in"])
    json.dump({"accessToken": token["access_token"],
               "expiresOn": datetime.fromtimestamp(expires).strftime("%Y-%m-%d %H:%M:%S.%f"),
               "expires_on": expires, "subscription": sub["id"], "tenant": tenant,
               "tokenType": token.get("token_type", "Bearer")}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
