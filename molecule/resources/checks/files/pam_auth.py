# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper of the os_hardening check suite: one PAM authentication as login does it, or a
password quality check as passwd does it.

Usage: python3 pam_auth.py SERVICE USER < password     (authenticate)
       python3 pam_auth.py --pwquality USER < password  (judge a new password)
Exit 0 when PAM authenticates USER with the password from stdin (or libpwquality accepts it with the
host's /etc/security/pwquality.conf and its .d folder), 1 when it refuses (the error is printed).
Debian 12 has no pamtester and no pwscore by default; this calls libpam and libpwquality through ctypes.
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


def pwquality(user):
    """libpwquality with the host's configuration: the check passwd makes through pam_pwquality."""
    password = sys.stdin.readline().rstrip("\n").encode()
    lib = ctypes.CDLL("libpwquality.so.1")
    lib.pwquality_default_settings.restype = ctypes.c_void_p
    lib.pwquality_read_config.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.pwquality_check.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_void_p)]
    lib.pwquality_strerror.restype = ctypes.c_char_p
    lib.pwquality_strerror.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p]
    settings = lib.pwquality_default_settings()
    aux = ctypes.c_void_p()
    if lib.pwquality_read_config(settings, None, ctypes.byref(aux)) != 0:
        print("cannot read the pwquality configuration")
        return 2
    score = lib.pwquality_check(settings, password, None, user.encode(), ctypes.byref(aux))
    if score < 0:
        buf = ctypes.create_string_buffer(256)
        print("%s: %s" % (user, lib.pwquality_strerror(buf, 256, score, aux).decode()))
        return 1
    print("%s: accepted (score %d)" % (user, score))
    return 0


def main():
    if sys.argv[1] == "--pwquality":
        return pwquality(sys.argv[2])
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
