#!/usr/bin/env bash
# Create the project's virtualenv. On a fresh Debian machine `python3 -m venv` needs the
# python3-venv package; install it when we can (root), otherwise say what to run.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if ! command -v "$python" >/dev/null 2>&1; then
    echo "hotline: $python is not installed; on Debian run: apt-get install python3 python3-venv" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "hotline: Python 3.11 or newer is needed ($("$python" --version) found)" >&2
    exit 1
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "hotline: installing python3-venv (needed to create $venv)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        "$python" -m venv "$venv"
    else
        echo "hotline: cannot create $venv; on Debian run: sudo apt-get install python3-venv" >&2
        exit 1
    fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=23.1' setuptools wheel
