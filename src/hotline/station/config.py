"""The station's settings, ``station.toml`` in the station directory.

Strictly read: an unknown key, a wrong type or a value out of range is refused with a message that
names the key, so a typo never silently falls back to a default. Every duration is a finite number
of seconds with an upper bound: ``inf`` or a year-long heartbeat would never fire, and a line whose
timers never fire looks up while it is dead.
"""

from __future__ import annotations

import math
from pathlib import Path

import msgspec

from hotline.proto.cards import parse_endpoint
from hotline.proto.carriermode import CarrierSetting
from hotline.station.errors import StationError
from hotline.station.quotarules import QuotaDefaults, QuotaSettings, quota_problem

#: The cell sizes a line's carrier may use (§5.2 buckets, powers of two from 256).
CARRIER_CELLS = (256, 512, 1024, 2048, 4096, 8192, 16384)


class LineSettings(QuotaSettings, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Per-line settings, a ``[lines.<peer>]`` table in ``station.toml`` (quota overrides included)."""

    #: Pick up this line's calls at once (for unattended tests and relays); never the default.
    auto_answer: bool = False
    #: A WAV file an auto-answered call plays to the caller (silence when unset).
    answer_play: str | None = None
    #: A directory where each auto-answered call's received audio is written, as ``<call id>.wav``.
    answer_record: str | None = None
    #: Keep the audio of every call on this line in the store, sealed like messages.
    record_calls: bool = False
    #: ``"steady"`` runs this line as a constant-rate carrier (docs/protocol.md §14): cells of
    #: ``carrier_cell`` bytes every ``carrier_interval_ms``, both ways, whatever the line carries.
    #: Both ends must say the same; ``"off"`` (the default) sends records only when there is traffic.
    carrier: str = "off"
    #: Bytes of each cell's plaintext: 256, 512, 1024, 2048, 4096, 8192 or 16384.
    carrier_cell: int = 1024
    #: Milliseconds between two cells of one direction (10 to 10000).
    carrier_interval_ms: int = 20

    def carrier_setting(self) -> CarrierSetting | None:
        """The line's carrier as the session takes it, or None when it is off."""
        if self.carrier != "steady":
            return None
        return CarrierSetting(cell_size=self.carrier_cell, interval=self.carrier_interval_ms / 1000)


class AudioSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """The sound card a call uses when it is given no WAV file, an ``[audio]`` table in ``station.toml``.

    Each is a device's number or name as PortAudio lists it (``python3 -m sounddevice``), or a part
    of the name that only one device has; unset means the system's default device.
    """

    #: Where the operator's voice comes from (a microphone, a headset).
    input: str | int | None = None
    #: Where the far end is heard (a speaker, a headset).
    output: str | int | None = None


class StationConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What ``hotline init`` writes and ``hotline up`` reads."""

    #: The station's name (also inside its identity and card).
    name: str
    #: Where the daemon listens, ``host:port``.
    listen: str
    #: Where peers dial us, in order; put in our card. Defaults to ``[listen]``.
    endpoints: list[str] = []
    #: Seconds between heartbeats (at most an hour); a line is declared dead after 3 missed ones.
    heartbeat: float = 10.0
    #: Seconds between scheduled line tests (at most a week).
    line_test_interval: float = 3600.0
    #: Seconds a line test may take before it counts as missed (at most an hour).
    line_test_timeout: float = 30.0
    #: Redial backoff bounds, seconds (each at most an hour).
    redial_min: float = 0.5
    redial_max: float = 30.0
    #: Half-open connections we keep before shedding the oldest.
    max_pending: int = 1024
    #: Cap the store at this many pages (SQLite ``max_page_count``); 0 means no cap.
    store_max_pages: int = 0
    #: Cap on the bytes of documents being received, as if the disk held no more; 0: no cap.
    documents_max_bytes: int = 0
    #: Seconds between a session's fresh key exchanges (at most 120; keys die 60 s after that).
    rekey_after: float = 120.0
    #: Per-line settings by line name.
    lines: dict[str, LineSettings] = {}
    #: Every line's quotas and the disk reserve (F5, :mod:`hotline.station.quotarules`).
    quotas: QuotaDefaults = msgspec.field(default_factory=QuotaDefaults)
    #: The sound card for calls (the system's default devices when unset).
    audio: AudioSettings = msgspec.field(default_factory=AudioSettings)

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem is not None:
            raise ValueError(problem)

    def line(self, peer: str) -> LineSettings:
        """The settings of the line to ``peer`` (the defaults when it has no table)."""
        return self.lines.get(peer) or LineSettings()

    @property
    def advertised(self) -> list[str]:
        """The endpoints peers should dial."""
        return list(self.endpoints) or [self.listen]


_HOUR = 3600.0

#: Duration setting -> the most seconds it may be; each must also be more than 0.
_SECONDS_AT_MOST = {
    "heartbeat": _HOUR,
    "line_test_interval": 7 * 24 * _HOUR,
    "line_test_timeout": _HOUR,
    "redial_min": _HOUR,
    "redial_max": _HOUR,
}


def _problem(config: StationConfig) -> str | None:
    for endpoint in (config.listen, *config.endpoints):
        try:
            parse_endpoint(endpoint)
        except ValueError as exc:
            return f"endpoint {endpoint!r}: {exc}"
    problem = _seconds_problem(config)
    if problem is not None:
        return problem
    if config.redial_max < config.redial_min:
        return "`redial_max` must be at least `redial_min`"
    if config.documents_max_bytes < 0:
        return "`documents_max_bytes` must be at least 0"
    if config.max_pending < 1 or config.store_max_pages < 0:
        return "`max_pending` must be at least 1 and `store_max_pages` at least 0"
    for kind in ("input", "output"):
        wanted = getattr(config.audio, kind)
        if wanted == "" or (isinstance(wanted, int) and wanted < 0):
            return f"`audio.{kind}` must name a device or give its number (or be left out for the default)"
    for peer, line in config.lines.items():
        problem = _carrier_problem(peer, line)
        if problem is not None:
            return problem
    return quota_problem(config.quotas, dict(config.lines))


def _carrier_problem(peer: str, line: LineSettings) -> str | None:
    where = f"[lines.{peer}]"
    if line.carrier not in ("off", "steady"):
        return f'{where} carrier must be "off" or "steady", not {line.carrier!r}'
    if line.carrier_cell not in CARRIER_CELLS:
        return f"{where} carrier_cell must be 256, 512, 1024, 2048, 4096, 8192 or 16384 bytes"
    if not 10 <= line.carrier_interval_ms <= 10_000:
        return f"{where} carrier_interval_ms must be 10 to 10000 milliseconds"
    return None


def _seconds_problem(config: StationConfig) -> str | None:
    for name, most in _SECONDS_AT_MOST.items():
        value = getattr(config, name)
        if not math.isfinite(value):
            return f"`{name}` must be a finite number of seconds, not {value}"
        if not 0 < value <= most:
            return f"`{name}` must be a positive number of seconds, at most {most:g}"
    # NaN fails every comparison, so the range check below refuses it as well as infinity.
    if not 1.0 <= config.rekey_after <= 120.0:
        return "`rekey_after` must be 1 to 120 seconds"
    return None


def load_config(path: Path) -> StationConfig:
    """Read ``station.toml``.

    Raises:
        StationError: ``bad-config`` naming the file and the problem.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StationError("bad-config", f"cannot read {path}: {exc.strerror}") from None
    try:
        return msgspec.toml.decode(data, type=StationConfig)
    except (msgspec.DecodeError, ValueError) as exc:
        raise StationError("bad-config", f"{path} is not a valid station config: {exc}") from None
    except RecursionError:
        # The TOML parser recurses once per level of nested arrays or inline tables; no real
        # config nests more than two deep, so running out of stack means the file is junk.
        raise StationError(
            "bad-config", f"{path} is not a valid station config: arrays or tables nested too deep"
        ) from None


def save_config(path: Path, config: StationConfig) -> None:
    """Write ``station.toml`` (owner-only)."""
    path.write_bytes(msgspec.toml.encode(config))
    path.chmod(0o600)


__all__ = ["AudioSettings", "LineSettings", "StationConfig", "load_config", "save_config"]
