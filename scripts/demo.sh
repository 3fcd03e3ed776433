#!/usr/bin/env bash
# Installs what is needed, builds, starts the local emulator, runs a sample
# workflow into a database and prints a query of the result.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

work=$(mktemp -d)
trap 'kill "$emu_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
build/cmd/compass-emu --scenario examples/demo-scenario.json --port 0 \
  --port-file "$work/port" >"$work/emu.log" 2>&1 &
emu_pid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

export SGP_BASE_URL="http://127.0.0.1:$port/corp-api/compass/api"
export SCALE_ACCOUNT_ID=demo-account
key_file="$work/key"
printf 'demo-key' >"$key_file"
db="${WF2SQLITE_DEMO_DB:-demo.db}"

echo "== wf2sqlite run sales_by_region --db $db"
build/cmd/wf2sqlite run sales_by_region --db "$db" --api-key-file "$key_file" -v region=emea
echo
echo "== sqlite3 $db 'SELECT region, product, units, revenue FROM wf_sales_by_region_latest ORDER BY revenue DESC LIMIT 5'"
sqlite3 -header -column "$db" \
  'SELECT region, product, units, revenue FROM wf_sales_by_region_latest ORDER BY revenue DESC LIMIT 5'
echo
echo "== wf2sqlite runs --db $db"
build/cmd/wf2sqlite runs --db "$db"
