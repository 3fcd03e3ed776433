#!/usr/bin/env bash
# Installs what is needed, builds twice (a -Werror build and an
# AddressSanitizer + UndefinedBehaviorSanitizer build) and runs every test in
# both with CTest, the tests that drop privileges once more from a copy of the
# checkout in a 0700 folder, then the fuzz smoke runs and the valgrind pass.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh --test
# The tests skip a check whose tool is missing; here none may be.
for tool in tmux openssl groff jq bash; do
  command -v "$tool" >/dev/null || { echo "scripts/test.sh: $tool is missing" >&2; exit 1; }
done
# The PostgreSQL tests start their own server 15 (tests/lib/pgserver.py).
test -x /usr/lib/postgresql/15/bin/initdb ||
  { echo "scripts/test.sh: PostgreSQL 15 (initdb) is missing" >&2; exit 1; }
jobs=$(nproc)
log=$(mktemp)
stray_before=$(mktemp)
stray_after=$(mktemp)
trap 'rm -f "$log" "$stray_before" "$stray_after"' EXIT
# Tests write into build folders and temporary folders only, never into the
# checkout (it may be read-only to them, or shared): a file that appears
# outside build*/ during this script fails it at the end.
stray() {
  { git status --porcelain --ignored --untracked-files=all -- . ':(exclude)build' \
      ':(exclude)build-*' 2>/dev/null || true; } | sort
}
stray >"$stray_before"

echo "== build (release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWF2SQLITE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests (release build)"
ctest --test-dir build --output-on-failure -j"$jobs" | tee -a "$log"
# The tests that run wf2sqlite as nobody must not depend on the folders above
# the checkout (docs/hardening.md, "Tests that drop privileges"): a few
# seconds, nothing left behind.
echo "== tests that drop privileges, from a checkout in a 0700 folder (release build)"
python3 tests/lib/private_checkout.py build

echo "== build (ASan + UBSan)"
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DWF2SQLITE_WERROR=ON -DWF2SQLITE_SANITIZE=ON >/dev/null
cmake --build build-san -j"$jobs"
echo "== tests (ASan + UBSan build)"
ctest --test-dir build-san --output-on-failure -j"$jobs" | tee -a "$log"

echo "== fuzz smoke run (clang, libFuzzer + ASan + UBSan, 5 s per target)"
bash scripts/fuzz.sh 5

echo "== valgrind (memcheck) over the main end-to-end paths (release build)"
bash scripts/valgrind.sh build

stray >"$stray_after"
if [ -n "$(comm -13 "$stray_before" "$stray_after")" ]; then
  echo "scripts/test.sh: the tests changed the checkout (outside build*/):" >&2
  comm -13 "$stray_before" "$stray_after" >&2
  exit 1
fi

# One closing line for both CTest runs (each already failed the script on
# any failure, as do the fuzz and valgrind steps above).
passed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2 \1/p' "$log" |
  awk '{p += $1 - $2; f += $2} END {print p " passed, " f " failed"}')
echo "total: $passed"
