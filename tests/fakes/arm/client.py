# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What tests use to drive the fake ARM: start it in-process or as a process, and its control endpoints."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import typing as t
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"  # server.SUBSCRIPTION (this module imports no server code)


class FakeArmProcess:
    """The fake as a separate process (what ansible-playbook runs against), on a given or free port."""

    def __init__(self, directory: str, port: int = 0, settle: int = 1) -> None:
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.port_file = os.path.join(directory, "port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        # its errors go to a file: a pipe nobody reads would block it once full
        self.errors = os.path.join(directory, "server.err")
        with open(self.errors, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--dir", directory,
                                          "--port", str(port), "--settle", str(settle)],
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + 30
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                with open(self.errors, encoding="utf-8", errors="replace") as fh:
                    raise RuntimeError("the fake ARM did not start (exit %s): %s" % (self.proc.poll(), fh.read()[-2000:]))
            time.sleep(0.05)
        time.sleep(0.05)
        with open(self.port_file, encoding="utf-8") as fh:
            self.port = int(fh.read())
        self.url = "https://127.0.0.1:%d" % self.port
        self.ca = os.path.join(directory, "ca.pem")
        self.client_pem = os.path.join(directory, "client.pem")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def control(self, method: str, path: str, body: t.Any = None) -> t.Any:
        return control(self.url, self.ca, method, path, body)

    def log(self) -> dict:
        return self.control("GET", "/_fake/log")


def control(url: str, ca: str, method: str, path: str, body: t.Any = None) -> t.Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=ca), timeout=10) as resp:
        return json.loads(resp.read() or b"null")
