#!/usr/bin/env bash
# Makes sure the system tools the tests use are present: wast2json and wat2wasm (Debian's wabt),
# redis-cli and redis-benchmark (redis-tools: the kv tests drive the kv enclave with them), openssl,
# tclsh (tcl: Redis's own test suite, from ../shared/redis-tests, runs on it).
# With --bench, also redis-server (the kv benchmark's reference; the tests never start it).
# Installs them with apt-get when running as root on a Debian-like machine; otherwise names the
# missing packages and fails.
set -euo pipefail
declare -A pkg=([wast2json]=wabt [wat2wasm]=wabt [redis-cli]=redis-tools [redis-benchmark]=redis-tools [openssl]=openssl [tclsh]=tcl)
for arg in "$@"; do
  case "$arg" in
    --bench) pkg[redis-server]=redis-server ;;
    *) echo "usage: scripts/ensure-tools.sh [--bench]" >&2; exit 2 ;;
  esac
done
missing=()
for tool in "${!pkg[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "these Debian packages are needed: ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
