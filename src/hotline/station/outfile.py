"""A file the station writes for an operator: always new, private, and never through a symbolic link.

Finding F7 of the security review: call recordings were created with the umask's mode, followed
symbolic links and replaced whatever was at the path. Every file the daemon writes out for an
operator (call recordings, exported calls, received documents) is now made by :func:`create` alone:
``O_CREAT | O_EXCL | O_NOFOLLOW``, mode 0600 whatever the umask, so an existing file or a link
planted at the path is an error, never a victim.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import BinaryIO

from hotline.station.errors import StationError

#: Mode of every file the station writes for an operator.
FILE_MODE = 0o600
#: Mode of a folder the station makes to hold such files (``answer_record``).
FOLDER_MODE = 0o700

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _in_the_way(path: Path) -> StationError:
    if path.is_symlink():
        return StationError(
            "bad-request", f"{path} is a symbolic link: Hotline never writes through one; give another path"
        )
    return StationError("bad-request", f"{path} exists: Hotline never overwrites a file; give a new path")


def check_new(path: Path) -> None:
    """Fail early, before slow work, if something is already at ``path`` (:func:`create` still
    checks again when it creates the file).

    Raises:
        StationError: ``bad-request``, as :func:`create` would.
    """
    if path.is_symlink() or path.exists():
        raise _in_the_way(path)


def create(path: Path, *, make_folder: bool = False) -> BinaryIO:
    """Create ``path`` as a new file of mode 0600 and open it for writing.

    ``make_folder`` makes a missing parent folder (mode 0700) first.

    Raises:
        StationError: ``bad-request`` when something already exists at ``path`` (a file, a folder or
            a symbolic link, dangling or not), ``bad-file`` when it cannot be created.
    """
    try:
        if make_folder:
            path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        fd = os.open(path, _FLAGS, FILE_MODE)
    except FileExistsError:
        raise _in_the_way(path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _in_the_way(path) from None
        raise StationError(
            "bad-file", f"cannot create {path}: {exc.strerror or exc}; check the folder exists and is ours"
        ) from None
    try:
        os.fchmod(fd, FILE_MODE)  # exactly 0600, whatever the umask left of it
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise


__all__ = ["FILE_MODE", "FOLDER_MODE", "check_new", "create"]
