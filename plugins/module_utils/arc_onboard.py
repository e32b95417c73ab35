# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The re-onboard decision of an Arc-connected cluster, and the agents' key pair.

``decide`` is the table ``az connectedk8s connect`` buries in its script,
made explicit and testable. It reads both sides, the cluster's
``azure-arc/azure-clusterconfig`` ConfigMap (None: no agents) and the ARM
resource (None: 404), and says what to do:

| ConfigMap            | ARM resource                | decision                                  |
|----------------------|-----------------------------|-------------------------------------------|
| names this resource  | exists, as wanted           | ``none``                                  |
| names this resource  | exists, differs             | ``update``: re-PUT with ARM's public key  |
| names this resource  | missing                     | ``onboard``: fresh key, agents reinstalled|
| names another        | any                         | ``conflict`` naming the other resource    |
| absent               | exists, key is ours         | ``none``/``update`` (agents not installed yet) |
| absent               | exists, key is not ours     | ``conflict``: another cluster's resource  |
| absent               | missing                     | ``onboard``                               |

``force_reonboard`` turns a conflict (and an existing resource) into
``reonboard``: delete the resource, onboard fresh. Nothing is deleted
otherwise.
"""

from __future__ import annotations

import base64
import os
import tempfile
import typing as t

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

NONE, UPDATE, ONBOARD, CONFLICT, REONBOARD = "none", "update", "onboard", "conflict", "reonboard"
KEY_BITS = 4096


class Decision:
    def __init__(self, action: str, reason: str, agents: str, public_key: str | None) -> None:
        self.action = action      # none | update | onboard | reonboard | conflict
        self.reason = reason      # one line for the user
        self.agents = agents      # keep | install | reinstall: what the Arc agents role must do
        self.public_key = public_key  # the key to PUT (None: no PUT)

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "agents": self.agents}


def differences(arm: dict, wanted: dict) -> t.List[str]:
    """What the wanted body changes on the ARM resource (location, tags, the settable properties)."""
    out = []
    if (arm.get("location") or "").replace(" ", "").lower() != wanted["location"].replace(" ", "").lower():
        out.append("location")
    if (arm.get("tags") or {}) != (wanted.get("tags") or {}):
        out.append("tags")
    props = arm.get("properties") or {}
    for key, value in wanted["properties"].items():
        if key != "agentPublicKeyCertificate" and props.get(key) != value:
            out.append("properties.%s" % key)
    return out


def decide(config: dict | None, arm: dict | None, group: str, name: str, wanted: dict, local_public_key: str | None,
           force: bool) -> Decision:
    """The re-onboard table (module docstring); ``wanted`` is the PUT body without the key."""
    names = None
    if config is not None:
        names = (config.get("AZURE_RESOURCE_GROUP") or "", config.get("AZURE_RESOURCE_NAME") or "")
    ours = names is not None and names[0].lower() == group.lower() and names[1].lower() == name.lower()
    if names is not None and not ours:
        if force:
            return Decision(REONBOARD, "the agents are onboarded as %s/%s: force_reonboard onboards them fresh as %s/%s"
                            % (names[0], names[1], group, name), "reinstall", None)
        return Decision(CONFLICT, "the cluster's Arc agents are already onboarded to resource group %s as %s;"
                        " offboard it there or set force_reonboard" % names, "keep", None)
    if arm is None:
        if names is not None:
            return Decision(ONBOARD, "the agents name %s/%s but ARM has no such resource: onboard fresh" % (group, name),
                            "reinstall", None)
        return Decision(ONBOARD, "no agents and no ARM resource: onboard", "install", None)
    arm_key = (arm.get("properties") or {}).get("agentPublicKeyCertificate")
    if force:
        return Decision(REONBOARD, "force_reonboard: delete %s/%s and onboard fresh" % (group, name), "reinstall", None)
    if names is None and (local_public_key is None or local_public_key != arm_key):
        return Decision(CONFLICT, "the ARM resource %s/%s already exists and corresponds to a different Kubernetes cluster"
                        " (its public key is not this cluster's); choose another name or set force_reonboard" % (group, name),
                        "keep", None)
    agents = "keep" if names is not None else "install"
    changes = differences(arm, wanted)
    if changes:
        return Decision(UPDATE, "re-PUT with the existing public key: %s differ" % ", ".join(changes), agents, arm_key)
    return Decision(NONE, "onboarded as wanted", agents, None)


# the key pair --------------------------------------------------------------------------

def public_key_of(private_pem: bytes) -> str:
    """base64(DER(PKCS#1 RSAPublicKey)), the form ARM's agentPublicKeyCertificate takes."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return base64.b64encode(der).decode("ascii")


def new_private_key() -> bytes:
    """A fresh RSA 4096 key as PKCS#1 PEM ("RSA PRIVATE KEY"), as the agents expect."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def read_private_key(path: str) -> bytes | None:
    """The key file's PEM; refused when others may read it."""
    if not os.path.exists(path):
        return None
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise ValueError("the private key file %s has mode %o: it must not be readable by group or others (0600)" % (path, mode))
    with open(path, "rb") as fh:
        return fh.read()


def write_private_key(path: str, pem: bytes) -> None:
    """Atomically, created 0600 (never world-readable, not even for a moment)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".arc-key-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
