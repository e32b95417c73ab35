# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper (Molecule os_hardening): one PAM authentication, as login does it.

Usage: python3 pam_auth.py SERVICE USER < password
Exit 0 when PAM authenticates USER with the password from stdin, 1 when it refuses (the PAM error
is printed). Debian 12 has no pamtester; this calls libpam through ctypes.
"""

import ctypes
import sys

PAM_PROMPT_ECHO_OFF = 1
PAM_PROMPT_ECHO_ON = 2


class PamMessage(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class PamResponse(ctypes.Structure):
    # resp must be malloc'ed memory: libpam frees it
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


CONV_FUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(PamMessage)),
                             ctypes.POINTER(ctypes.POINTER(PamResponse)), ctypes.c_void_p)


class PamConv(ctypes.Structure):
    _fields_ = [("conv", CONV_FUNC), ("appdata_ptr", ctypes.c_void_p)]


def main():
    service, user = sys.argv[1].encode(), sys.argv[2].encode()
    password = sys.stdin.readline().rstrip("\n").encode()
    libc = ctypes.CDLL("libc.so.6")
    libc.calloc.restype = ctypes.c_void_p
    libc.strdup.restype = ctypes.c_void_p
    libc.strdup.argtypes = [ctypes.c_char_p]
    libpam = ctypes.CDLL("libpam.so.0")
    libpam.pam_strerror.restype = ctypes.c_char_p

    def conversation(count, messages, response, _data):
        replies = libc.calloc(count, ctypes.sizeof(PamResponse))
        response[0] = ctypes.cast(replies, ctypes.POINTER(PamResponse))
        for i in range(count):
            if messages[i].contents.msg_style in (PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON):
                response[0][i].resp = libc.strdup(password)
        return 0

    handle = ctypes.c_void_p()
    conv = PamConv(CONV_FUNC(conversation), None)
    rc = libpam.pam_start(service, user, ctypes.byref(conv), ctypes.byref(handle))
    if rc == 0:
        rc = libpam.pam_authenticate(handle, 0)
        if rc == 0:
            rc = libpam.pam_acct_mgmt(handle, 0)
    message = libpam.pam_strerror(handle, rc).decode()
    libpam.pam_end(handle, rc)
    print("%s: %s" % (user.decode(), message))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
