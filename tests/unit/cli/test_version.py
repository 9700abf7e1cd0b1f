"""``hotline --version`` prints the installed package's version."""

from __future__ import annotations

import importlib.metadata

import pytest
from click.testing import CliRunner

from hotline import __version__
from hotline.cli import main
from hotline.cli.main import cli


def test_version_is_the_installed_packages() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"hotline {importlib.metadata.version('hotline')}\n"


def test_version_needs_no_station_and_runs_no_command() -> None:
    result = CliRunner().invoke(cli, ["--home", "/nonexistent", "--version", "status"])
    assert result.exit_code == 0 and result.stdout.startswith("hotline ") and result.stderr == ""


def test_a_source_tree_never_installed_reports_its_own_number(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(main.importlib.metadata, "version", missing)
    assert main.version() == __version__
