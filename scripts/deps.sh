#!/usr/bin/env bash
# Installs the Debian 12 packages wf2sqlite needs to build and test; skips
# what is already installed. Run as root (or with sudo available).
set -euo pipefail

# libmicrohttpd-dev (built with GnuTLS: HTTPS) and zlib1g-dev (gzip bodies)
# are the emulator's, compass-emu. libpq-dev: PostgreSQL's client library
# (--db postgresql://..., docs/postgresql.md).
packages=(build-essential cmake pkg-config libcurl4-openssl-dev libjson-c-dev
          libsqlite3-dev libinih-dev sqlite3 python3 jq libmicrohttpd-dev zlib1g-dev
          libpq-dev)
if [ "${1:-}" = "--test" ]; then
  # Tests also use clang (libFuzzer), valgrind, tmux (the progress line on a
  # terminal), time, openssl (a private CA and a TLS server for the TLS
  # tests), groff-base (the man page renders without warnings) and jq (--json
  # read as a script would), zsh and fish (their completion scripts parse),
  # and nginx (a real gateway in front of the emulator, cutting idle
  # requests; the tests start their own on a free loopback port), and
  # postgresql (the server 15: the PostgreSQL tests start their own, as an
  # unprivileged user, in a temporary folder). Without them those checks
  # would be skipped.
  packages+=(clang libclang-rt-dev valgrind tmux time openssl groff-base zsh fish nginx
             postgresql)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
