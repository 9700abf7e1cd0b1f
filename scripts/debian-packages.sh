#!/usr/bin/env bash
# Install the Debian packages listed in scripts/debian-packages.txt that this machine lacks.
#
#   scripts/debian-packages.sh [LIST] [STAMP]
#
# Each line of LIST is tab-separated: package, probe, why. The probe shows the package is there: a
# command on PATH (no slash) or an absolute file path; `a|b` accepts either (a library's path differs
# per architecture). When every probe passes, nothing runs but the checks. Otherwise, as root, apt-get
# installs the missing packages; not as root, one line says what to run, and the exit status is 1.
# STAMP, when given, is touched once every probe passes (make runs this again only when LIST changes).
set -euo pipefail
list=${1:-"$(dirname "$0")/debian-packages.txt"}
stamp=${2:-}

# probe_passes PROBE: 0 when one of PROBE's `|`-separated alternatives is present.
probe_passes() {
    local alternative
    local -a alternatives
    IFS='|' read -r -a alternatives <<<"$1"
    for alternative in "${alternatives[@]}"; do
        if [[ $alternative == /* ]]; then
            [ -e "$alternative" ] && return 0
        elif [ -n "$alternative" ]; then
            command -v "$alternative" >/dev/null 2>&1 && return 0
        fi
    done
    return 1
}

# missing_packages: the packages of LIST whose probe fails, one per line; a malformed line stops here.
missing_packages() {
    local number=0 package probe why
    while IFS=$'\t' read -r package probe why || [ -n "$package" ]; do
        number=$((number + 1))
        [[ -z ${package//[[:space:]]/} || $package == \#* ]] && continue
        if [ -z "$probe" ] || [ -z "$why" ]; then
            echo "hotline: $list line $number: expected package<TAB>probe<TAB>why" >&2
            return 2
        fi
        probe_passes "$probe" || echo "$package"
    done <"$list"
}

if [ ! -r "$list" ]; then
    echo "hotline: cannot read the list of Debian packages $list" >&2
    exit 1
fi
found=$(missing_packages)
# de-duplicated, in the list's order (two probes may name one package)
mapfile -t missing < <(awk 'NF && !seen[$0]++' <<<"$found")
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "hotline: missing Debian packages ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "hotline: installing ${missing[*]} (see $list)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    still=$(missing_packages)
    if [ -n "$still" ]; then
        echo "hotline: installed, yet the probe in $list still fails for: ${still//$'\n'/ }" >&2
        exit 1
    fi
fi
if [ -n "$stamp" ]; then
    mkdir -p "$(dirname "$stamp")"
    touch "$stamp"
fi
