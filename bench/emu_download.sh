#!/usr/bin/env bash
# Download-only time of the bench8 result body from compass-emu over
# loopback (docs/performance.md): the emulator must not be the bottleneck of
# the benchmark. Starts EMU with a workflow of ROWS generated rows, makes
# one request (which renders the body), then times RUNS downloads with curl
# to /dev/null and prints each, the median, and the emulator's CPU seconds
# (user + system) per download, which depend less on other load.
#   bash bench/emu_download.sh [EMU] [ROWS] [RUNS] [MODE]
#   EMU   default build-bench/cmd/compass-emu
#   ROWS  default 1000000;  RUNS default 5
#   MODE  plain (default) or gzip: the workflow is chunked and gzip-encoded
#         (SPEC 17) and curl asks for gzip and decodes it (--compressed)
set -euo pipefail
emu=${1:-build-bench/cmd/compass-emu}
rows=${2:-1000000}
runs=${3:-5}
mode=${4:-plain}
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

extra='' curl_extra=()
if [ "$mode" = gzip ]; then
	extra=',"chunked":true,"gzip":true'
	curl_extra=(--compressed)
fi
printf '{"api_key":"k","account_id":"a","workflows":{"big":{"generate":{"rows":%d}%s}},"sessions":{"s":{"workflow":"big"}}}' \
	"$rows" "$extra" >"$work/s.json"
"$emu" --scenario "$work/s.json" --port-file "$work/port" >/dev/null 2>"$work/err" &
pid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { cat "$work/err" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$work/port")/corp-api/compass/api/v1/sessions/s/result"
get() {
	curl -s -o /dev/null "${curl_extra[@]}" -H x-scale-api-key:k -H x-selected-account-id:a \
		-w '%{size_download} %{time_total}\n' "$url"
}
read -r bytes secs < <(get)
echo "first request (renders the body): $bytes bytes on the wire, ${secs}s"
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks=$(getconf CLK_TCK)
cpu0=$(cpu)
times=()
for _ in $(seq "$runs"); do
	read -r bytes secs < <(get)
	echo "download: $bytes bytes on the wire, ${secs}s"
	times+=("$secs")
done
cpu1=$(cpu)
printf '%s\n' "${times[@]}" | sort -n | awk -v c=$((cpu1 - cpu0)) -v t="$ticks" -v n="$runs" \
	'{a[NR]=$1} END {printf "median download: %ss, emulator CPU %.3fs per download\n", a[int((NR+1)/2)], c / t / n}'
