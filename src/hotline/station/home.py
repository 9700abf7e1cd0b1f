"""The station directory: what lives in it, creating it, and unlocking it.

```
HOME/                 0700
  station.toml        settings (:mod:`hotline.station.config`)
  identity.key        the identity, sealed under the passphrase (Argon2id)
  store.sqlite        the store (+ -wal, -shm), every page encrypted under a key derived from the
                      identity (so from the passphrase); bodies, call audio and line keys sealed again
  documents/          received documents' bytes, sealed
  station.lock        held (flock) by whichever process has the store open
  control.sock        the daemon's control socket, 0600
```
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from hotline.crypto.passphrase import Argon2Params
from hotline.proto.identity import Cnsa2Parts, Identity
from hotline.proto.identity_errors import IdentityError, KeyFileError, WrongPassphrase
from hotline.proto.keyfile import (
    DEFAULT_PARAMS,
    KEYFILE_VERSION_1,
    MAGIC,
    kdf_params,
    open_identity,
    seal_identity,
    upgrade_key_file,
)
from hotline.station.config import StationConfig, load_config, save_config
from hotline.station.errors import StationError
from hotline.station.protect import core_dumps_possible, protect_process
from hotline.station.strength import ADVICE, passphrase_problem

log = logging.getLogger("hotline.station")

#: Argon2id costs by name: ``standard`` is RFC 9106's second recommendation; ``light`` is for test
#: stations and small machines, and says so in the key file's header.
KDF_PROFILES = {
    "standard": DEFAULT_PARAMS,
    "light": Argon2Params(memory_kib=8 * 1024, iterations=1, lanes=1),
}
#: What the daemon logs at start when its key file is ``light`` (the CLI has its own wording).
LIGHT_KDF_WARNING = (
    "the key file uses the light key derivation (8 MiB, 1 pass): each guess at the passphrase costs an "
    "attacker with a copy of the disk about 24 times less than the standard one. It is for tests and "
    "very small machines; for a real station, create it again without --kdf light"
)


@dataclass(frozen=True, slots=True)
class StationPaths:
    """The files of one station directory."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / "station.toml"

    @property
    def keyfile(self) -> Path:
        return self.home / "identity.key"

    @property
    def store(self) -> Path:
        return self.home / "store.sqlite"

    @property
    def lock(self) -> Path:
        return self.home / "station.lock"

    @property
    def control(self) -> Path:
        return self.home / "control.sock"


def create_station(
    home: Path,
    name: str,
    listen: str,
    passphrase: str,
    *,
    endpoints: list[str] | None = None,
    kdf: str = "standard",
) -> dict[str, object]:
    """Create a station directory with a new identity (``hotline init``).

    Returns:
        The ``station`` description (docs/control.md).

    Raises:
        StationError: the directory already holds a station, or an argument is invalid.
    """
    protect_process()
    paths = StationPaths(home)
    if paths.keyfile.exists() or paths.config.exists():
        raise StationError("station-exists", f"{home} already holds a station")
    if kdf not in KDF_PROFILES:
        raise StationError("bad-request", f"unknown key derivation profile {kdf!r}")
    weak = passphrase_problem(passphrase, context=(name,))
    if weak is not None:
        raise StationError("weak-passphrase", f"{weak}, so nothing was created; {ADVICE}")
    try:
        config = StationConfig(name=name, listen=listen, endpoints=list(endpoints or []))
    except ValueError as exc:
        raise StationError("bad-request", str(exc)) from None
    try:
        identity = Identity.generate(name)
        sealed = seal_identity(identity, passphrase, KDF_PROFILES[kdf])
    except IdentityError as exc:
        raise StationError("bad-request", exc.reason) from None
    try:
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        save_config(paths.config, config)
        fd = os.open(paths.keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(sealed)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise StationError("bad-request", f"cannot create the station in {home}: {exc.strerror}") from None
    return {
        "name": name,
        "fingerprint": str(identity.fingerprint),
        "listen": config.listen,
        "endpoints": config.advertised,
        "home": str(home),
        "kdf": kdf,
    }


def unlock(home: Path, passphrase: str, *, upgrade: bool = True) -> tuple[StationConfig, Identity]:
    """Read the settings and open the identity.

    With ``upgrade`` (every opening of the station but a passphrase change, which seals the file
    anew itself), a version 1 key file, made before line profiles, gains the station's ``cnsa2``
    keys (:func:`_open_upgraded`), so its card offers both profiles.

    Raises:
        StationError: ``no-station``, ``bad-config``, ``wrong-passphrase`` or ``bad-keyfile``.
    """
    protect_process()
    paths = StationPaths(home)
    if not paths.config.exists() or not paths.keyfile.exists():
        raise StationError("no-station", f"no station at {home}: create one with `hotline init`")
    config = load_config(paths.config)
    try:
        identity = (
            _open_upgraded(paths, passphrase)
            if upgrade
            else open_identity(paths.keyfile.read_bytes(), passphrase)
        )
    except KeyFileError as exc:
        code = "wrong-passphrase" if isinstance(exc, WrongPassphrase) else "bad-keyfile"
        raise StationError(code, f"{paths.keyfile}: {exc.reason}") from None
    except OSError as exc:
        raise StationError("bad-keyfile", f"cannot read {paths.keyfile}: {exc.strerror}") from None
    if identity.name != config.name:
        raise StationError(
            "bad-config", f"{paths.config} names {config.name!r}, the key file {identity.name!r}"
        )
    return config, identity


def change_passphrase(home: Path, passphrase: str, new_passphrase: str) -> dict[str, object]:
    """Seal the key file under ``new_passphrase`` (``hotline passphrase``), with the same Argon2id costs.

    The new file replaces the old one atomically (written beside it, synced, renamed), so a crash
    leaves one of the two passphrases working, never neither. A running daemon is not disturbed: it
    read the keys when it started. Two changes at once are refused (``busy``): the later one would
    otherwise silently undo the earlier.

    Returns:
        ``{name, kdf}``.

    Raises:
        StationError: ``no-station``, ``wrong-passphrase``, ``bad-keyfile``, ``bad-config``,
            ``weak-passphrase`` (nothing changed) or ``busy``.
    """
    protect_process()
    paths = StationPaths(home)
    try:
        directory = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        raise StationError("no-station", f"no station at {home}: create one with `hotline init`") from None
    try:
        try:
            fcntl.flock(directory, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StationError(
                "busy", f"the passphrase of {home} is being changed by another process"
            ) from None
        _, identity = unlock(home, passphrase, upgrade=False)
        if identity.cnsa2 is None:  # sealed anew anyway: the file gains the cnsa2 keys with it
            identity = identity.with_cnsa2(Cnsa2Parts.generate())
        weak = passphrase_problem(new_passphrase, context=(identity.name,))
        if weak is not None:
            raise StationError("weak-passphrase", f"{weak}, so the passphrase was not changed; {ADVICE}")
        params = kdf_params(paths.keyfile.read_bytes()) or DEFAULT_PARAMS
        try:
            sealed = seal_identity(identity, new_passphrase, params)
        except KeyFileError as exc:
            raise StationError("bad-request", exc.reason) from None
        _replace(paths.keyfile, sealed, directory)
    finally:
        os.close(directory)  # also lets go of the lock
    return {"name": identity.name, "kdf": kdf_profile(home)}


def _open_upgraded(paths: StationPaths, passphrase: str) -> Identity:
    """Open the key file; a version 1 file gains ``cnsa2`` keys and is replaced, once.

    The standard keys stay as they were (so the store key, every standard line's pins and safety
    numbers too). The new file is written beside the old one and renamed over it, under the same
    directory lock a passphrase change takes; while a passphrase change holds that lock, the file
    is left as it is for this opening (the change itself adds the keys).

    Raises:
        KeyFileError: as :func:`open_identity`.
        OSError: the key file cannot be read.
    """
    data = paths.keyfile.read_bytes()
    if data[len(MAGIC) : len(MAGIC) + 1] != bytes([KEYFILE_VERSION_1]):
        return open_identity(data, passphrase)
    directory = os.open(paths.home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(directory, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return open_identity(data, passphrase)
        # read again under the lock: another opening may have upgraded it meanwhile
        identity, upgraded = upgrade_key_file(paths.keyfile.read_bytes(), passphrase)
        if upgraded is not None:
            _replace(paths.keyfile, upgraded, directory)
            log.warning(
                "the key file predates line profiles: it now also holds this station's cnsa2 keys "
                "(its standard keys, fingerprint and safety numbers are unchanged), so its card "
                "offers both profiles",
                extra={"keyfile": str(paths.keyfile)},
            )
        return identity
    finally:
        os.close(directory)  # also lets go of the lock


def _replace(path: Path, data: bytes, directory: int) -> None:
    fresh = path.with_name(path.name + ".new")
    try:
        fresh.unlink(missing_ok=True)  # left by a change that crashed before its rename
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(fresh, path)
        os.fsync(directory)
    except OSError as exc:
        raise StationError("bad-keyfile", f"cannot write {path}: {exc.strerror}; it is unchanged") from None


def kdf_profile(home: Path) -> str:
    """How the station's key file is stretched: a name of :data:`KDF_PROFILES`, ``custom`` or ``unknown``."""
    try:
        with StationPaths(home).keyfile.open("rb") as f:
            params = kdf_params(f.read(64))
    except OSError:
        return "unknown"
    if params is None:
        return "unknown"
    return next((name for name, known in KDF_PROFILES.items() if known == params), "custom")


def key_protection(home: Path) -> dict[str, object]:
    """What ``station`` says about how the keys are kept: the key file's ``kdf`` profile, and whether
    this process could still leave a core dump (``core_dumps``)."""
    return {"kdf": kdf_profile(home), "core_dumps": core_dumps_possible()}


class StationLock:
    """An exclusive ``flock`` on ``station.lock``: one process at a time holds the store."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait`` seconds for another holder to let go.

        Raises:
            StationError: ``busy`` when another process still holds it.
        """
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StationError(
                        "busy",
                        f"another process has the station at {self._path.parent} open "
                        "(is `hotline up` running?)",
                    ) from None
                time.sleep(0.05)
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


__all__ = [
    "KDF_PROFILES",
    "LIGHT_KDF_WARNING",
    "StationLock",
    "StationPaths",
    "change_passphrase",
    "create_station",
    "kdf_profile",
    "key_protection",
    "unlock",
]
