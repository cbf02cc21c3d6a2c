#!/usr/bin/env bash
# Makes sure the system tools the tests use are present: wast2json (Debian's wabt), redis-cli
# and redis-benchmark (redis-tools), openssl. Installs them with apt-get when running as root on
# a Debian-like machine; otherwise names the missing package and fails.
set -euo pipefail
declare -A pkg=([wast2json]=wabt [redis-cli]=redis-tools [redis-benchmark]=redis-tools [openssl]=openssl)
missing=()
for tool in "${!pkg[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages the tests need: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "the tests need these Debian packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
