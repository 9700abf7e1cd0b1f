"""Station settings (hotline.station.config): strict reading.

Every refusal is a StationError with code ``bad-config`` whose message names the file.
"""

from __future__ import annotations

import math
import stat
from pathlib import Path

import pytest

from hotline.station.config import StationConfig, load_config, save_config
from hotline.station.errors import StationError

MINIMAL = 'name = "alpha"\nlisten = "127.0.0.1:7000"\n'


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "station.toml"


def refused(path: Path, text: str | bytes) -> StationError:
    """Write ``text`` to ``path``, load it, and return the StationError (checking its code and file)."""
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    with pytest.raises(StationError) as info:
        load_config(path)
    assert info.value.code == "bad-config"
    assert str(path) in info.value.message
    assert str(info.value) == info.value.message
    return info.value


def test_minimal_config_gets_the_defaults(path: Path) -> None:
    path.write_text(MINIMAL)
    config = load_config(path)
    assert config.name == "alpha"
    assert config.listen == "127.0.0.1:7000"
    assert config.endpoints == []
    assert config.advertised == ["127.0.0.1:7000"]
    assert config.heartbeat == 10.0
    assert config.max_pending == 1024
    assert config.store_max_pages == 0


def test_save_load_round_trip(path: Path) -> None:
    config = StationConfig(
        name="alpha",
        listen="[::1]:7000",
        endpoints=["alpha.example:7000", "192.0.2.1:7001"],
        heartbeat=2.5,
        line_test_interval=60,
        line_test_timeout=5,
        redial_min=1,
        redial_max=1,
        max_pending=3,
        store_max_pages=100,
    )
    save_config(path, config)
    assert load_config(path) == config
    assert load_config(path).advertised == ["alpha.example:7000", "192.0.2.1:7001"]


def test_save_is_owner_only(path: Path) -> None:
    save_config(path, StationConfig(name="alpha", listen="127.0.0.1:7000"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_integers_are_accepted_for_seconds(path: Path) -> None:
    path.write_text(MINIMAL + "heartbeat = 3\n")
    assert load_config(path).heartbeat == 3.0


@pytest.mark.parametrize("key", ["heartbeats", "Name", "listen_port", "store"])
def test_unknown_key_is_refused_by_name(path: Path, key: str) -> None:
    error = refused(path, MINIMAL + f"{key} = 1\n")
    assert key in error.message


def test_unknown_table_is_refused(path: Path) -> None:
    refused(path, MINIMAL + "[extras]\ncolour = 'red'\n")


@pytest.mark.parametrize(
    "line",
    [
        'heartbeat = "10"',
        "max_pending = 1.5",
        "max_pending = true",
        "store_max_pages = '0'",
        'endpoints = "alpha.example:7000"',
        "endpoints = [7000]",
        "redial_min = []",
    ],
)
def test_wrong_type_is_refused(path: Path, line: str) -> None:
    error = refused(path, MINIMAL + line + "\n")
    key = line.split(" = ")[0]
    assert key in error.message


@pytest.mark.parametrize("text", ["name = 5\nlisten = '127.0.0.1:7000'\n", "name = 'alpha'\nlisten = 7000\n"])
def test_wrong_type_for_required_keys_is_refused(path: Path, text: str) -> None:
    refused(path, text)


@pytest.mark.parametrize("text", ['listen = "127.0.0.1:7000"\n', 'name = "alpha"\n', ""])
def test_missing_required_key_is_refused(path: Path, text: str) -> None:
    refused(path, text)


@pytest.mark.parametrize(
    "endpoint",
    [
        "localhost",
        "127.0.0.1",
        ":7000",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:07000",
        "Alpha.Example:7000",
        "::1:7000",
        "[::1:7000",
        "[fe80::1%eth0]:7000",
        "010.0.0.1:7000",
    ],
)
@pytest.mark.parametrize("where", ["listen", "endpoints"])
def test_bad_endpoint_is_refused(path: Path, endpoint: str, where: str) -> None:
    if where == "listen":
        text = f'name = "alpha"\nlisten = "{endpoint}"\n'
    else:
        text = MINIMAL + f'endpoints = ["alpha.example:7000", "{endpoint}"]\n'
    error = refused(path, text)
    assert repr(endpoint) in error.message


@pytest.mark.parametrize(
    "key", ["heartbeat", "line_test_interval", "line_test_timeout", "redial_min", "redial_max"]
)
@pytest.mark.parametrize("value", ["0", "-1", "-0.5", "nan"])
def test_non_positive_interval_is_refused(path: Path, key: str, value: str) -> None:
    error = refused(path, MINIMAL + f"{key} = {value}\n")
    assert key in error.message


def test_redial_max_below_min_is_refused(path: Path) -> None:
    error = refused(path, MINIMAL + "redial_min = 5\nredial_max = 1\n")
    assert "redial_max" in error.message


@pytest.mark.parametrize("line", ["max_pending = 0", "max_pending = -3", "store_max_pages = -1"])
def test_out_of_range_counts_are_refused(path: Path, line: str) -> None:
    error = refused(path, MINIMAL + line + "\n")
    assert line.split(" = ")[0] in error.message


@pytest.mark.parametrize(
    "data", [b"this is not toml", b"name = \n", b"\xff\xfe\x00", b'name = "alpha"\nname = "beta"\n']
)
def test_not_toml_is_refused(path: Path, data: bytes) -> None:
    refused(path, data)


def test_missing_file_is_bad_config(path: Path) -> None:
    with pytest.raises(StationError) as info:
        load_config(path)
    assert info.value.code == "bad-config"
    assert str(path) in info.value.message


def test_constructing_a_bad_config_raises_value_error() -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        StationConfig(name="alpha", listen="127.0.0.1:7000", heartbeat=0)


def test_line_settings_are_read_and_default_off(path: Path) -> None:
    path.write_text(
        MINIMAL
        + '[lines.bravo]\nauto_answer = true\nanswer_record = "/srv/calls"\n'
        + "[lines.charlie]\nrecord_calls = true\n"
    )
    config = load_config(path)
    assert config.line("bravo").auto_answer and config.line("bravo").answer_record == "/srv/calls"
    assert not config.line("charlie").auto_answer and config.line("charlie").record_calls
    assert not config.line("nobody").auto_answer and not config.line("nobody").record_calls
    save_config(path, config)
    assert load_config(path) == config


def test_an_unknown_line_setting_is_refused_by_name(path: Path) -> None:
    assert "auto_answr" in refused(path, MINIMAL + "[lines.bravo]\nauto_answr = true\n").message


@pytest.mark.parametrize("value", ["0.5", "121", "-1"])
def test_rekey_interval_out_of_range_is_refused(path: Path, value: str) -> None:
    assert "rekey_after" in refused(path, MINIMAL + f"rekey_after = {value}\n").message


SECONDS_KEYS = [
    "heartbeat",
    "line_test_interval",
    "line_test_timeout",
    "redial_min",
    "redial_max",
    "rekey_after",
]


@pytest.mark.parametrize(
    "text",
    [
        b"x = " + b"[" * 1000,
        b"x = " + b"[" * 2000 + b"]" * 2000 + b"\n",
        b"x = " + b"{x = " * 1000 + b"1" + b"}" * 1000 + b"\n",
        MINIMAL.encode() + b"endpoints = " + b"[" * 5000,
    ],
    ids=["arrays-unclosed", "arrays-closed", "inline-tables", "after-valid-keys"],
)
def test_deeply_nested_toml_is_refused(path: Path, text: bytes) -> None:
    """The parser recurses per nesting level; running out of stack is a bad config, not a crash."""
    assert "nested too deep" in refused(path, text).message


def test_nesting_a_real_config_uses_is_read(path: Path) -> None:
    path.write_text(MINIMAL + "lines = { bravo = { auto_answer = true } }\n")
    assert load_config(path).line("bravo").auto_answer


@pytest.mark.parametrize("key", SECONDS_KEYS)
@pytest.mark.parametrize("value", ["inf", "+inf", "-inf", "nan", "-nan"])
def test_non_finite_seconds_are_refused(path: Path, key: str, value: str) -> None:
    error = refused(path, MINIMAL + f"{key} = {value}\n")
    assert key in error.message
    assert "seconds" in error.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("heartbeat", "3600.5"),
        ("heartbeat", "1e300"),
        ("line_test_interval", "604801"),
        ("line_test_interval", "9223372036854775807"),
        ("line_test_timeout", "3601"),
        ("redial_min", "1e18"),
        ("redial_max", "86400"),
        ("rekey_after", "1e300"),
    ],
)
def test_absurd_seconds_are_refused(path: Path, key: str, value: str) -> None:
    error = refused(path, MINIMAL + f"{key} = {value}\n")
    assert key in error.message
    assert "seconds" in error.message


def test_the_longest_allowed_durations_are_read(path: Path) -> None:
    path.write_text(
        MINIMAL
        + "heartbeat = 3600\nline_test_interval = 604800\nline_test_timeout = 3600\n"
        + "redial_min = 3600\nredial_max = 3600\nrekey_after = 120\n"
    )
    config = load_config(path)
    assert (config.heartbeat, config.line_test_interval, config.redial_max) == (3600, 604800, 3600)


@pytest.mark.parametrize("value", [math.inf, math.nan, 1e12])
def test_constructing_a_config_with_absurd_seconds_raises_value_error(value: float) -> None:
    with pytest.raises(ValueError, match="line_test_timeout"):
        StationConfig(name="alpha", listen="127.0.0.1:7000", line_test_timeout=value)


def test_a_line_runs_as_a_carrier_only_when_told(path: Path) -> None:
    path.write_text(
        MINIMAL
        + '[lines.jerusalem]\ncarrier = "steady"\ncarrier_cell = 2048\ncarrier_interval_ms = 50\n'
        + "[lines.ottawa]\nauto_answer = true\n"
    )
    config = load_config(path)
    setting = config.line("jerusalem").carrier_setting()
    assert setting is not None and (setting.cell_size, setting.interval) == (2048, 0.05)
    assert config.line("ottawa").carrier_setting() is None
    assert config.line("nobody").carrier_setting() is None


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('carrier = "constant"', 'carrier must be "off" or "steady"'),
        ('carrier = "steady"\ncarrier_cell = 1000', "carrier_cell must be 256, 512"),
        ('carrier = "steady"\ncarrier_cell = 128', "carrier_cell must be 256, 512"),
        ('carrier = "steady"\ncarrier_interval_ms = 5', "carrier_interval_ms must be 10 to 10000"),
        ("carrier_interval_ms = 20000", "carrier_interval_ms must be 10 to 10000"),
    ],
)
def test_a_bad_carrier_setting_is_refused_by_line_and_name(path: Path, line: str, says: str) -> None:
    path.write_text(MINIMAL + f"[lines.jerusalem]\n{line}\n")
    with pytest.raises(StationError) as caught:
        load_config(path)
    assert caught.value.code == "bad-config"
    assert "[lines.jerusalem]" in str(caught.value) and says in str(caught.value)
