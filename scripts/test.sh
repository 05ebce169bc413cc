#!/usr/bin/env bash
# Runs every test of the workspace. Installs the Debian packages the tests drive
# (ldap-utils, python3-ldap, slapd without a system instance) when they are missing.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
/usr/bin/python3 -c 'import ldap' >/dev/null 2>&1 || need+=(python3-ldap)
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # slapd's package must not configure and start a system instance.
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo test --workspace --all-targets --no-fail-fast "$@"
# --all-targets leaves out doc tests (the harness API's runnable examples).
cargo test --workspace --doc "$@"
