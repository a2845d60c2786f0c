#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages Chorus builds, tests and runs with, when any is missing.
# Used by `make demo`, `make test` and `make bench`; safe to run repeatedly.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libyang2-dev libyang2-tools libssh-dev libssl-dev zlib1g-dev libcmocka-dev
  libyuma-base python3 python3-ncclient openssh-client procps iproute2
)
[ "${1:-}" = "--bench" ] && PKGS+=(gnuplot-nox netconfd openssh-server hyperfine)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
