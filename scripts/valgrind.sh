#!/usr/bin/env bash
# The valgrind pass: the main end-to-end paths (run, attach, resume, status,
# load, schema, runs) of a non-sanitizer build under memcheck against
# compass-emu, failing on any memcheck error or definite/indirect leak
# (tests/hard/test_valgrind.py; docs/hardening.md).
#   scripts/valgrind.sh [BUILD_DIR]     default: build
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if ! command -v valgrind >/dev/null; then
	echo "valgrind.sh: valgrind not found (apt-get install valgrind)" >&2
	exit 2
fi
if grep -q '^WF2SQLITE_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
	echo "valgrind.sh: $build is a sanitizer build; give a normal build directory" >&2
	exit 2
fi
root=$(pwd)
cd tests/hard
WF2SQLITE_BIN="$root/$build/cmd/wf2sqlite" COMPASS_EMU_BIN="$root/$build/cmd/compass-emu" \
	WF_SOURCE_DIR="$root" WF_SANITIZE=OFF PYTHONDONTWRITEBYTECODE=1 \
	python3 -m unittest -v test_valgrind
