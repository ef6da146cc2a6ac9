#!/usr/bin/env bash
# Set up bitswarm on a fresh machine: a virtual environment in .venv with the
# package installed in editable mode. `scripts/setup.sh test` also installs the
# test and benchmark dependencies: Python packages, and the third-party BitTorrent
# programs the interop tests run (Debian packages, so this part needs root/apt).
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-run}
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi

if [ "$want" = test ]; then
    # gcc and python3-dev build bencode's C accelerator (its tests must not skip in CI).
    debs=(opentracker aria2 transmission-cli transmission-daemon mktorrent redis-server gcc python3-dev)
    missing=()
    for pkg in "${debs[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        # The packaged services are started by the tests themselves, on loopback.
        for svc in redis-server opentracker transmission-daemon; do
            $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
        done
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,bench,dev,speed,redis]'
else
    .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
