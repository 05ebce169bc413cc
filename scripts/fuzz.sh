#!/usr/bin/env bash
# fuzz.sh: bounded fuzzing of the input parsers: the BER decoder path, DNs, string
# filters, LDIF and slapd.conf.
#
# With cargo-fuzz and a nightly toolchain installed, runs each target in fuzz/ for
# SECS seconds (default 60): `cargo +nightly fuzz run TARGET -- -max_total_time=SECS`.
# Otherwise (this machine has only stable Rust) it runs the proptest fuzz tests
# (proto/tests/fuzz.rs, server/tests/fuzz_config.rs) with CASES cases each (default
# 20000) instead of the suite's 256. Exit status 0 only when nothing crashed; a crash is
# to become a named regression test (`*_bug_NN`) next to the fuzz tests.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-60}
CASES=${CASES:-20000}
TARGETS="ber_codec dn filter ldif config"
if cargo +nightly fuzz --version >/dev/null 2>&1; then
  for t in $TARGETS; do
    echo "== cargo fuzz: $t for ${SECS}s"
    (cd fuzz && cargo +nightly fuzz run "$t" -- -max_total_time="$SECS")
  done
else
  echo "cargo-fuzz with nightly not available: proptest fuzzing with $CASES cases per property"
  FUZZ_CASES=$CASES cargo test --quiet -p oxldap-proto --test fuzz
  FUZZ_CASES=$CASES cargo test --quiet -p oxldap-server --test fuzz_config
fi
