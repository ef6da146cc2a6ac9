#!/usr/bin/env bash
# Set up bitswarm on a fresh machine: a virtual environment in .venv with the
# package installed in editable mode and its sources byte-compiled. Debian's
# python3 cannot make a virtual environment until python3-venv is installed;
# that package is installed only when venv creation fails. `scripts/setup.sh
# test` also installs the test and benchmark dependencies: Python packages, and
# the Debian programs the tests run (third-party BitTorrent programs, iproute2
# and util-linux for the network-namespace interop tests). Debian packages need
# root or sudo. Running it again installs nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-run}
python=${PYTHON:-python3}
apt_updated=no

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.sh: installing Debian packages needs root or sudo: $*" >&2
        exit 1
    fi
}

# Install the Debian packages among "$@" that are not installed yet.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    if [ "$apt_updated" = no ]; then
        as_root apt-get update -qq
        apt_updated=yes
    fi
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A virtual environment with pip in it; a half-made one (no pip) is made again.
make_venv() {
    .venv/bin/python -m pip --version >/dev/null 2>&1 && return 0
    "$python" -m venv --clear .venv >/dev/null 2>&1 && return 0
    apt_install python3-venv
    if ! "$python" -m venv --clear .venv >/dev/null; then
        echo "setup.sh: $python cannot make a virtual environment, even with python3-venv" >&2
        exit 1
    fi
}

if [ "$want" = test ]; then
    # gcc and python3-dev build the C accelerators, bencode's and the UDP tracker's batched
    # datagrams, and the mypyc build of the swarm core (their tests must not skip in CI);
    # iproute2 (ip) and util-linux (unshare) make the interop tests' network namespace.
    debs=(opentracker aria2 transmission-cli transmission-daemon mktorrent redis-server
        gcc python3-dev iproute2 util-linux)
    missing_services=no
    for svc in redis-server opentracker transmission-daemon; do
        dpkg-query -W -f='${Status}' "$svc" 2>/dev/null | grep -q "ok installed" || missing_services=yes
    done
    apt_install "${debs[@]}"
    if [ "$missing_services" = yes ]; then
        # The packaged services are started by the tests themselves, on loopback.
        for svc in redis-server opentracker transmission-daemon; do
            as_root systemctl disable --now "$svc" >/dev/null 2>&1 \
                || as_root service "$svc" stop >/dev/null 2>&1 || true
        done
    fi
    make_venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,bench,dev,speed,redis]'
else
    make_venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
# Byte-compile the sources, as a regular (not editable) install does: where Python is told
# not to write bytecode (PYTHONDONTWRITEBYTECODE), every command would otherwise compile
# bitswarm's modules again at start-up, about a tenth of a second each time.
.venv/bin/python -m compileall -q src >/dev/null
