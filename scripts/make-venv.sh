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
# The PESQ meter (used by the demo, the tests and the benchmarks) is compiled at install time: it
# needs a C compiler and the Python headers.
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
if ! "$python" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    missing+=(python3-dev)
fi
# espeak-ng speaks the demo's call (a shipped clip stands in where it is missing).
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "hotline: installing ${missing[*]}" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "hotline: missing ${missing[*]}; on Debian run: sudo apt-get install ${missing[*]}" >&2
        [[ " ${missing[*]} " == *" espeak-ng "* && ${#missing[@]} -eq 1 ]] || exit 1
    fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=23.1' setuptools wheel
