"""The ``hotline`` command: click commands, human messages and exit codes."""
