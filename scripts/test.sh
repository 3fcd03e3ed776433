#!/usr/bin/env bash
# Installs what is needed, builds twice (a -Werror build and an
# AddressSanitizer + UndefinedBehaviorSanitizer build) and runs every test in
# both with CTest, then the fuzz smoke runs and the valgrind pass.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh --test
# The tests skip a check whose tool is missing; here none may be.
for tool in tmux openssl groff jq bash; do
  command -v "$tool" >/dev/null || { echo "scripts/test.sh: $tool is missing" >&2; exit 1; }
done
jobs=$(nproc)

echo "== build (release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWF2SQLITE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests (release build)"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build (ASan + UBSan)"
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DWF2SQLITE_WERROR=ON -DWF2SQLITE_SANITIZE=ON >/dev/null
cmake --build build-san -j"$jobs"
echo "== tests (ASan + UBSan build)"
ctest --test-dir build-san --output-on-failure -j"$jobs"

echo "== fuzz smoke run (clang, libFuzzer + ASan + UBSan, 5 s per target)"
bash scripts/fuzz.sh 5

echo "== valgrind (memcheck) over the main end-to-end paths (release build)"
bash scripts/valgrind.sh build
