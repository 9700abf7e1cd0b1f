"""Files the station writes for an operator (hotline.station.outfile): finding F7."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hotline.station import outfile
from hotline.station.calls.audio import WavFileSink
from hotline.station.errors import StationError
from hotline.voice.codec import FRAME_BYTES


def test_a_new_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with outfile.create(tmp_path / "a.bin") as f:
            f.write(b"x")
        old_strict = os.umask(0o277)  # a umask that would take the owner's write bit away
        with outfile.create(tmp_path / "b.bin") as f:
            f.write(b"y")
        os.umask(old_strict)
    finally:
        os.umask(old)
    for name in ("a.bin", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    """F7: a file at the path stays as it was, and the error says so."""
    there = tmp_path / "there.wav"
    there.write_bytes(b"the first call")
    with pytest.raises(StationError) as refused:
        outfile.create(there)
    assert refused.value.code == "bad-request" and "exists" in refused.value.message
    assert there.read_bytes() == b"the first call"
    with pytest.raises(StationError):
        outfile.check_new(there)


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symbolic_link_is_never_followed(tmp_path: Path, dangling: bool) -> None:
    """F7: a link planted at the path (to a file, or to where a file would be made) is refused; the
    file it points to is neither written nor created."""
    target = tmp_path / "target"
    if not dangling:
        target.write_bytes(b"precious")
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    for attempt in (lambda: outfile.create(link), lambda: outfile.check_new(link)):
        with pytest.raises(StationError) as refused:
            attempt()
        assert refused.value.code == "bad-request" and "symbolic link" in refused.value.message
    if dangling:
        assert not target.exists()
    else:
        assert target.read_bytes() == b"precious"


def test_a_missing_folder_is_an_error_unless_asked_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(StationError) as refused:
        outfile.create(tmp_path / "no" / "f.wav")
    assert refused.value.code == "bad-file" and "cannot create" in refused.value.message
    with outfile.create(tmp_path / "made" / "f.wav", make_folder=True):
        pass
    assert stat.S_IMODE((tmp_path / "made").stat().st_mode) == 0o700


def test_a_recording_is_a_new_private_wav(tmp_path: Path) -> None:
    sink = WavFileSink(tmp_path / "rec.wav")
    sink.write(bytes(FRAME_BYTES))
    sink.close()
    assert stat.S_IMODE((tmp_path / "rec.wav").stat().st_mode) == 0o600
    link = tmp_path / "link.wav"
    link.symlink_to(tmp_path / "rec.wav")
    before = (tmp_path / "rec.wav").read_bytes()
    for path in (tmp_path / "rec.wav", link):
        with pytest.raises(StationError):
            WavFileSink(path)
    assert (tmp_path / "rec.wav").read_bytes() == before
