#!/usr/bin/env bash
# bench-unboundid-start.sh: start-up of UnboundID's InMemoryDirectoryServer (the Java
# reference issue 7 names) next to oxldap's, on the same 1,000-user seed. A measurement for
# BENCHMARKS.md, not a test.
#
# The SDK jar is not in the repo: Maven Central is unreachable from the project machine, so
# it comes from PyPI's python-ldap-test 0.3.1 sdist, which bundles UnboundID LDAP SDK 2.3.1
# (checked against PyPI's sha256). Needs java/javac (17 here) and network on first use;
# cached in target/unboundid/.
#
# Prints, for UnboundID: a fresh JVM's wall time to a first base search (what a Java test
# suite's first test pays), then in one JVM the first and warm in-process starts; for
# oxldap: `scripts/bench-start-cpu.py` on the same seed (a fresh process each run).
# RUNS (default 9) per kind; SEED (default tests/fixtures/axigen-1000.ldif).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-9}
SEED=${SEED:-tests/fixtures/axigen-1000.ldif}
W=target/unboundid
SDIST=python-ldap-test-0.3.1.tar.gz
SHA=8e676ff33f7a755c56bf262f85feba484316bd5af83e970eb78d2a66e9e809e2
URL=https://files.pythonhosted.org/packages/29/2e/1ff9000907fd1379bca985cc76d254b453cb53c817ef8197983fe3fdedfb/$SDIST
mkdir -p "$W"
if [ ! -f "$W/sdk.jar" ]; then
  curl -sSfL -o "$W/$SDIST" "$URL"
  echo "$SHA  $W/$SDIST" | sha256sum -c --quiet
  tar -xzf "$W/$SDIST" -C "$W"
  cp "$W"/python-ldap-test-0.3.1/ldap_test/*.jar "$W/sdk.jar"
fi
javac -d "$W" -cp "$W/sdk.jar" benches/java/UnboundIdStart.java
JAVA_CP="$W/sdk.jar:$W"

echo "== UnboundID InMemoryDirectoryServer (SDK 2.3.1), seed $SEED"
rows=()
for _ in $(seq "$RUNS"); do
  # wall seconds, then user + system CPU seconds of the whole JVM
  rows+=("$( { /usr/bin/time -f '%e %U %S' java -cp "$JAVA_CP" UnboundIdStart "$SEED" 1 >/dev/null; } 2>&1 | tail -1)")
done
printf '%s\n' "${rows[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
wall = sorted(r[0] * 1000 for r in rows)
cpu = sorted((r[1] + r[2]) * 1000 for r in rows)
print("fresh JVM, start to first search and exit (%d runs): wall min %d / median %d ms, "
      "CPU min %d / median %d ms" % (len(rows), wall[0], statistics.median(wall), cpu[0], statistics.median(cpu)))'
java -cp "$JAVA_CP" UnboundIdStart "$SEED" "$RUNS" | tail -1
echo "== UnboundID, empty directory, one JVM"
java -cp "$JAVA_CP" UnboundIdStart - "$RUNS" | tail -1

echo "== oxldap serve --memory --ldif (fresh process each run)"
cargo build --release --quiet --bin oxldap
# The seed without the layout the default config creates (suffix, o=, two ou=).
awk 'BEGIN{RS=""; ORS="\n\n"} NR>4' "$SEED" > "$W/seed-users.ldif"
python3 scripts/bench-start-cpu.py "$W/seed-users.ldif" "$RUNS" target/release/oxldap
