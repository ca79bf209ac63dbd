#!/usr/bin/env bash
# Installs the Debian 12 packages dbxfs needs to build, test and benchmark.
# Safe to run again: it installs only what is missing.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev liblmdb-dev lmdb-utils
  libcjson-dev libzstd-dev libmicrohttpd-dev
  python3 python3-pytest python3-requests python3-zstandard zstd curl openssl
  procps psmisc
  rsync sqlite3 tar diffutils   # programs the mount tests (tests/fs) run inside a mount
  scdoc                         # the man pages, from the .scd source beside each program
  man-db groff-base             # tests/install: man --warnings and groff check the pages
  systemd dpkg-dev file         # systemd-analyze verify of the units; the .deb (CPack)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
