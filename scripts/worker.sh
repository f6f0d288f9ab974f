#!/usr/bin/env bash
# The shard Worker (wasm/worker) run for real in workerd through wrangler,
# offline and on loopback only. See docs/worker.md.
#
#   scripts/worker.sh build    build the Worker bundle (build/worker/) and the local server (build/serve)
#   scripts/worker.sh dev      seed local R2 from public/shards, run wrangler dev on 127.0.0.1:8787 until Ctrl-C
#   scripts/worker.sh test     conformance suite against the local server and against workerd
#   scripts/worker.sh bench    wrk load test of both servers (installs wrk with apt-get if missing)
#   scripts/worker.sh dryrun   wrangler deploy --dry-run: proves the bundle builds
#
# Needs Go, Node 20 and npm; runs `npm ci` itself when node_modules is
# missing. Environment: WORKER_PORT (dev, default 8787), SHARDS_DIR (default
# public/shards), BENCH_DURATION (default 10s), BENCH_CONNECTIONS (default 16).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BUCKET=enmp-lab-shards
WRANGLER_VERSION=4.86.0
SHARDS_DIR=${SHARDS_DIR:-public/shards}
WORKER_PORT=${WORKER_PORT:-8787}
LOGS=$ROOT/build/logs

say() { printf 'worker.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Offline: no metrics, no error reports, no update checks, no account.
offline() {
	export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true \
		CI=true CLOUDFLARE_CF_FETCH_ENABLED=false NO_UPDATE_NOTIFIER=1
	unset CLOUDFLARE_API_TOKEN CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL CLOUDFLARE_ACCOUNT_ID CF_API_TOKEN CF_ACCOUNT_ID
}

ensure_node() {
	command -v node >/dev/null || die "node not found: install Node 20"
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$major" -ge 20 ] || die "Node $major found, wrangler $WRANGLER_VERSION needs Node 20 or later"
	if [ ! -x node_modules/.bin/wrangler ] || [ "$(node -p 'require("./node_modules/wrangler/package.json").version' 2>/dev/null)" != "$WRANGLER_VERSION" ]; then
		say "npm ci (wrangler $WRANGLER_VERSION)"
		npm ci --no-audit --no-fund >&2
	fi
	offline
}

wrangler() { "$ROOT/node_modules/.bin/wrangler" "$@"; }

build() {
	mkdir -p build/worker
	say "building the Worker (build/worker/) and the local server (build/serve)"
	go run github.com/syumai/workers/cmd/workers-assets-gen -mode=go -o build/worker >&2
	GOOS=js GOARCH=wasm go build -trimpath -ldflags=-s -o build/worker/app.wasm ./wasm/worker
	go build -o build/serve ./cmd/serve
}

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Process groups started here, ended on exit.
GROUPS_STARTED=()
TMP=""
cleanup() {
	local pg
	for pg in "${GROUPS_STARTED[@]}"; do
		kill -TERM -- "-$pg" 2>/dev/null || true
	done
	for pg in "${GROUPS_STARTED[@]}"; do
		for _ in $(seq 1 50); do
			kill -0 -- "-$pg" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pg" 2>/dev/null || true
	done
	GROUPS_STARTED=()
	if [ -n "$TMP" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_group() {
	local pg=$1 rest=() g
	kill -TERM -- "-$pg" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 -- "-$pg" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
	wait "$pg" 2>/dev/null || true
	for g in "${GROUPS_STARTED[@]}"; do [ "$g" = "$pg" ] || rest+=("$g"); done
	GROUPS_STARTED=("${rest[@]+"${rest[@]}"}")
}

# wait_http PORT PID LOG: until GET /manifest.json on 127.0.0.1:PORT gets
# any HTTP answer (bash's /dev/tcp: no curl needed).
wait_http() {
	local port=$1 pid=$2 log=$3 line
	for _ in $(seq 1 240); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$log" >&2
			die "server on port $port exited before answering (log: $log)"
		fi
		if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
			printf 'GET /manifest.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
			line=""
			read -r -t 10 line <&3 || true
			exec 3<&- 3>&-
			case $line in HTTP/*) return 0 ;; esac
		fi
		sleep 0.5
	done
	tail -n 30 "$log" >&2
	die "no answer on 127.0.0.1:$port after 120 s (log: $log)"
}

# seed STATE DIR: the local R2 bucket under STATE mirrors DIR.
seed() {
	node scripts/seed-r2.mjs "$1" "$BUCKET" "$2" >&2
}

# start_worker STATE PORT LOG: wrangler dev (workerd) on 127.0.0.1:PORT; sets STARTED.
start_worker() {
	local state=$1 port=$2 log=$3 iport
	iport=$(free_port)
	setsid "$ROOT/node_modules/.bin/wrangler" dev --local --persist-to "$state" --ip 127.0.0.1 --port "$port" \
		--inspector-port "$iport" --show-interactive-dev-session=false >"$log" 2>&1 </dev/null &
	STARTED=$!
	GROUPS_STARTED+=("$STARTED")
	wait_http "$port" "$STARTED" "$log"
}

# start_local PUBLIC SHARDS PORT LOG: build/serve on 127.0.0.1:PORT; sets STARTED.
start_local() {
	local public=$1 shards=$2 port=$3 log=$4
	ADDR=127.0.0.1:$port setsid build/serve -public "$public" -shards "$shards" >"$log" 2>&1 </dev/null &
	STARTED=$!
	GROUPS_STARTED+=("$STARTED")
	wait_http "$port" "$STARTED" "$log"
}

RESULTS=()
FAILED=0
# suite NAME URL DIR: the conformance suite against URL serving DIR.
suite() {
	local name=$1 url=$2 dir=$3 log="$LOGS/conformance-$1.log" pass fail
	say "conformance: $name ($url, shards from $dir)"
	if ENMP_CONFORMANCE_URL=$url ENMP_CONFORMANCE_DIR=$dir go test -count=1 -v -run '^TestLive$' ./core/serve/conformance >"$log" 2>&1; then
		pass=$(grep -c -- '--- PASS' "$log" || true)
		RESULTS+=("PASS  $name: all $((pass - 1)) groups of checks passed")
	else
		FAILED=1
		fail=$(grep -c -- '--- FAIL' "$log" || true)
		RESULTS+=("FAIL  $name: $fail failed (log: $log)")
		grep -v -- '--- PASS\|=== RUN' "$log" | head -n 60 >&2
	fi
	grep -E '^(ok|FAIL|---)' "$log" | grep -v -- '--- PASS: TestLive/' >&2 || true
}

cmd_test() {
	ensure_node
	build
	mkdir -p "$LOGS"
	TMP=$(mktemp -d)
	go run ./core/serve/conformance/fixture "$TMP/fixture"
	local targets=("fixture:$TMP/fixture")
	if [ -f "$SHARDS_DIR/manifest.json" ]; then
		targets+=("shards:$ROOT/$SHARDS_DIR")
	else
		say "no $SHARDS_DIR/manifest.json yet: testing the generated fixture only"
	fi
	local t name dir port
	for t in "${targets[@]}"; do
		name=${t%%:*}
		dir=${t#*:}
		port=$(free_port)
		start_local "$ROOT/public" "$dir" "$port" "$LOGS/serve-$name.log"
		suite "local-$name" "http://127.0.0.1:$port" "$dir"
		stop_group "$STARTED"
		seed "$TMP/state-$name" "$dir"
		port=$(free_port)
		start_worker "$TMP/state-$name" "$port" "$LOGS/workerd-$name.log"
		suite "workerd-$name" "http://127.0.0.1:$port" "$dir"
		stop_group "$STARTED"
	done
	printf '%s\n' "${RESULTS[@]}"
	local n_fail n_pass
	n_fail=$(printf '%s\n' "${RESULTS[@]}" | grep -c '^FAIL' || true)
	n_pass=$(printf '%s\n' "${RESULTS[@]}" | grep -c '^PASS' || true)
	echo "conformance: $n_pass passed, $n_fail failed"
	return "$FAILED"
}

cmd_dev() {
	ensure_node
	mkdir -p "$LOGS"
	local state=.wrangler/state
	if [ -f "$SHARDS_DIR/manifest.json" ]; then
		seed "$state" "$SHARDS_DIR"
	else
		say "warning: no $SHARDS_DIR/manifest.json: the local bucket keeps what it had (run with SHARDS_DIR=DIR)"
	fi
	say "starting wrangler dev on http://127.0.0.1:$WORKER_PORT/ (log: $LOGS/workerd-dev.log)"
	start_worker "$state" "$WORKER_PORT" "$LOGS/workerd-dev.log"
	say "ready: http://127.0.0.1:$WORKER_PORT/ (Ctrl-C stops it)"
	wait "$STARTED" || true
}

# wrk_one NAME URL: one bounded wrk run; appends a table row to BENCH.
wrk_one() {
	local name=$1 url=$2 out rps p99 bad errs
	out=$(wrk -t2 -c"$BENCH_CONNECTIONS" -d"$BENCH_DURATION" --timeout 10s --latency "$url")
	echo "$out" >>"$LOGS/bench-raw.txt"
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	bad=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
	errs=$(awk '/Socket errors/ {sub(/.*Socket errors: /, ""); print}' <<<"$out")
	total=$(awk '/requests in/ {print $1}' <<<"$out")
	BENCH+=("| $name | $total | $rps | $p99 | ${bad:-0} | ${errs:-none} |")
	if [ -n "$bad" ] && [ "$bad" != 0 ]; then FAILED=1; fi
	if [ -n "$errs" ]; then FAILED=1; fi
}

cmd_bench() {
	ensure_node
	if ! command -v wrk >/dev/null; then
		say "installing wrk (Debian package)"
		local sudo=""
		[ "$(id -u)" = 0 ] || sudo=sudo
		$sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq wrk >&2 || die "cannot install wrk"
	fi
	BENCH_DURATION=${BENCH_DURATION:-10s}
	BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-16}
	build
	mkdir -p "$LOGS"
	: >"$LOGS/bench-raw.txt"
	TMP=$(mktemp -d)
	go run ./core/serve/conformance/fixture "$TMP/fixture"
	local big
	big=$(cd "$TMP/fixture" && ls -S fixture-backbone.*.safetensors | head -n 1)
	BENCH=("| server, path | requests | requests/s | p99 latency | non-2xx/3xx | socket errors |" "|---|---|---|---|---|---|")
	local port
	port=$(free_port)
	start_local "$ROOT/public" "$TMP/fixture" "$port" "$LOGS/serve-bench.log"
	wrk_one "local, /manifest.json" "http://127.0.0.1:$port/manifest.json"
	wrk_one "local, /shards/ (1 MiB)" "http://127.0.0.1:$port/shards/$big"
	stop_group "$STARTED"
	seed "$TMP/state" "$TMP/fixture"
	port=$(free_port)
	start_worker "$TMP/state" "$port" "$LOGS/workerd-bench.log"
	wrk_one "workerd, /manifest.json" "http://127.0.0.1:$port/manifest.json"
	wrk_one "workerd, /shards/ (1 MiB)" "http://127.0.0.1:$port/shards/$big"
	stop_group "$STARTED"
	echo "wrk -t2 -c$BENCH_CONNECTIONS -d$BENCH_DURATION on $(nproc) cores, loopback:" | tee "$LOGS/bench.md"
	printf '%s\n' "${BENCH[@]}" | tee -a "$LOGS/bench.md"
	[ "$FAILED" = 0 ] || die "some responses were not 2xx/3xx or sockets failed (see $LOGS/bench-raw.txt)"
}

cmd_dryrun() {
	ensure_node
	local out=build/worker-dryrun
	rm -rf "$out"
	wrangler deploy --dry-run --outdir "$out" >&2
	ls "$out"/*app.wasm >/dev/null 2>&1 || die "dry run produced no app.wasm in $out"
	[ -f "$out/entry.js" ] || [ -f "$out/worker.js" ] || ls "$out"/*.js >/dev/null 2>&1 || die "dry run produced no worker script in $out"
	say "dry run ok: bundle in $out"
	ls -l "$out" >&2
}

case ${1:-} in
build) build ;;
dev) cmd_dev ;;
test) cmd_test ;;
bench) cmd_bench ;;
dryrun) cmd_dryrun ;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
