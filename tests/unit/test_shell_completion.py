"""Shell completion of the ``hotline`` command (bash, zsh, fish), through click's own machinery.

The README tells operators to enable it with ``eval "$(_HOTLINE_COMPLETE=bash_source hotline)"`` (or
the zsh and fish equivalents); these tests ask the same classes the shell scripts call for the words
that complete a partial command, and check that each shell's script is generated for ``hotline``.
"""

from __future__ import annotations

import click
import pytest
from click.shell_completion import BashComplete, FishComplete, ShellComplete, ZshComplete
from click.testing import CliRunner

from hotline.cli.main import cli

COMPLETE_VAR = "_HOTLINE_COMPLETE"


def _complete(shell: type[ShellComplete], words: str, incomplete: str) -> list[str]:
    completer = shell(cli, {}, "hotline", COMPLETE_VAR)
    return [item.value for item in completer.get_completions(words.split(), incomplete)]


@pytest.mark.parametrize("shell", [BashComplete, ZshComplete, FishComplete])
def test_a_partial_subcommand_completes(shell: type[ShellComplete]) -> None:
    assert _complete(shell, "", "li") == ["line"]
    assert set(_complete(shell, "", "s")) >= {"send", "send-file", "status", "sas"}
    assert set(_complete(shell, "line", "a")) == {"add", "accept"}


def test_every_command_is_offered_and_options_after_a_dash() -> None:
    everything = _complete(BashComplete, "", "")
    assert isinstance(cli, click.Group)
    assert set(everything) == set(cli.list_commands(click.Context(cli)))
    assert "--precedence" in _complete(BashComplete, "send jerusalem", "--p")
    assert "--home" in _complete(BashComplete, "", "--h")


@pytest.mark.parametrize(
    ("source", "marker"),
    [
        ("bash_source", "complete -o nosort -F _hotline_completion hotline"),
        ("zsh_source", "#compdef hotline"),
        ("fish_source", "complete --no-files --command hotline"),
    ],
)
def test_each_shell_gets_its_script(source: str, marker: str) -> None:
    result = CliRunner().invoke(cli, [], prog_name="hotline", env={COMPLETE_VAR: source})
    assert result.exit_code == 0, result.output
    assert marker in result.output
    assert COMPLETE_VAR in result.output
