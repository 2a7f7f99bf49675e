#!/usr/bin/env bash
# Installs Debian packages that a test, a benchmark or CI needs, only when their command is missing.
#   scripts/apt-ensure.sh COMMAND=PACKAGE [COMMAND=PACKAGE …]
# e.g. scripts/apt-ensure.sh bsdiff=bsdiff xdelta3=xdelta3
# Runs apt-get (as root, or through sudo when available); `apt-get update` runs once, first.
# Exit status: 0 when every command is present afterwards, 69 (EX_UNAVAILABLE) otherwise.
set -uo pipefail
missing=()
for pair in "$@"; do
  cmd="${pair%%=*}"; pkg="${pair#*=}"
  if [ -x "$cmd" ] || command -v "$cmd" >/dev/null 2>&1; then continue; fi
  missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
  echo "apt-ensure: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2; exit 69
fi
echo "apt-ensure: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || true
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "apt-ensure: apt-get install ${missing[*]} failed" >&2; exit 69
fi
for pair in "$@"; do
  cmd="${pair%%=*}"
  if ! { [ -x "$cmd" ] || command -v "$cmd" >/dev/null 2>&1; }; then echo "apt-ensure: $cmd still missing" >&2; exit 69; fi
done
exit 0
