#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz
# (-DWF2SQLITE_FUZZ=ON: -fsanitize=fuzzer,address,undefined) and runs each
# target for SECONDS seconds on a copy of its seed corpus (libFuzzer seed
# FUZZ_SEED, default 1, so a smoke run repeats; set another for new paths).
#   scripts/fuzz.sh 5      the smoke run (scripts/test.sh calls it)
#   scripts/fuzz.sh 600    the long run (docs/hardening.md)
#   scripts/fuzz.sh 60 fuzz_reader fuzz_vars    only some targets
# New inputs libFuzzer finds go to build-fuzz/corpus/<target> (not the
# checked-in seeds); a crash leaves build-fuzz/crash-* and fails the script.
# Environment: FUZZ_JOBS (parallel jobs per target, default 1), CC (clang).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-5}
shift || true
all=(fuzz_reader fuzz_schema fuzz_duration fuzz_url fuzz_vars fuzz_scenario)
[ "$#" -gt 0 ] && targets=("$@") || targets=("${all[@]}")
case $secs in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2; exit 2;; esac

cc=${CC:-clang}
if ! command -v "$cc" >/dev/null; then
	echo "fuzz.sh: $cc not found; the fuzz targets need clang (apt-get install clang)" >&2
	exit 2
fi
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
	-DWF2SQLITE_FUZZ=ON -DWF2SQLITE_TESTS=OFF -DWF2SQLITE_WERROR=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >/dev/null

out=build-fuzz/fuzz-out
mkdir -p "$out"
failed=()
for t in "${targets[@]}"; do
	work=build-fuzz/corpus/$t
	mkdir -p "$work"
	cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
	echo "== $t: ${secs}s"
	# -max_total_time bounds the run; -timeout flags a single input that hangs
	# (the reader feeds each input three ways, so allow a few seconds).
	if ! (cd build-fuzz && ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"./tests/fuzz/$t" -max_total_time="$secs" -seed="${FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -jobs="${FUZZ_JOBS:-1}" \
		-workers="${FUZZ_JOBS:-1}" "corpus/$t" >"fuzz-out/$t.log" 2>&1); then
		failed+=("$t")
		echo "   FAILED: see build-fuzz/fuzz-out/$t.log and build-fuzz/crash-*" >&2
		grep -E 'ERROR|SUMMARY|abort|crash-|deadly' "$out/$t.log" | head -20 >&2 || true
	else
		grep -E '^stat::number_of_executed_units|^Done|#[0-9]+.*DONE' "$out/$t.log" |
			tail -2 | sed 's/^/   /'
	fi
done
if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz.sh: failures in: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${secs}s each, no crash"
