"""Keeping the unlocked identity out of core dumps and out of other processes' reach (F11).

A process that has opened the key file holds the station's private keys and the store's keys in its
memory. A core dump would write them to the disk in the clear (the adversary may copy the disk), and
another process of the same user could read them through ``ptrace`` or ``/proc/PID/mem``. So every
process that unlocks a station (the daemon, and the CLI running a request offline or creating a
station) calls :func:`protect_process` before it reads the passphrase or the key file:

* ``RLIMIT_CORE`` goes to 0, soft and hard, so it cannot be raised again without privilege;
* on Linux the process becomes non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): with the kernel's
  default ``fs.suid_dumpable = 0`` no core dump at all, even through a ``core_pattern`` pipe (which
  ignores ``RLIMIT_CORE``); no ``ptrace`` attach and no ``/proc/PID/mem`` or ``environ`` for
  other processes of the same user (root keeps them). ``/proc/PID/status`` and ``stat`` stay readable,
  which is what monitoring needs. The flag is reset by ``execve``, so programs we start are unaffected.
"""

from __future__ import annotations

import ctypes
import logging
import resource
import sys

log = logging.getLogger("hotline.station")

#: ``prctl`` options (linux/prctl.h).
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3

__all__ = ["core_dumps_possible", "protect_process"]


def _prctl(option: int, value: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    result = prctl(option, value, 0, 0, 0)
    if result < 0:
        raise OSError(ctypes.get_errno(), "prctl failed")
    return int(result)


def protect_process() -> None:
    """No core dumps of this process, and (on Linux) no ptrace or ``/proc/PID/mem`` by its peers.

    Never fails: where the system refuses, the daemon still runs, and :func:`core_dumps_possible` tells.
    """
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:
        log.warning("could not turn core dumps off", extra={"error": str(exc)})
    if sys.platform == "linux":
        try:
            _prctl(PR_SET_DUMPABLE, 0)
        except OSError as exc:
            log.warning("could not make the process non-dumpable", extra={"error": str(exc)})


def core_dumps_possible() -> bool:
    """Whether this process could still leave a core dump (for ``status``)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_CORE)
    if soft != 0:
        return True
    if sys.platform == "linux":
        try:
            return _prctl(PR_GET_DUMPABLE, 0) != 0
        except OSError:
            return True
    return False
