#!/usr/bin/env bash
# The browser toy: scripts/web.sh build | dist | test | bench | serve-dev
#   build  vugu generate, the wasm binary (page + Web Worker) into public/
#   dist   dist/enmp.html: one self-contained offline file (default family inlined)
#   test   chromedp suite against Debian's Chromium (installed with apt-get if missing)
#   bench  browser benchmarks (navigation to first generation, 1 and 2 workers, bytes, memory)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

build() {
  go generate ./ui
  cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" public/wasm_exec.js
  GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o public/enmp.wasm ./wasm/app
  gzip -9 -n -c public/enmp.wasm > public/enmp.wasm.gz
  # The page reads the tuned hyperparameters from tuned.gen.json; an empty
  # table when public/tuned.json does not exist yet (merge defaults then).
  if [ -f public/tuned.json ]; then cp public/tuned.json public/tuned.gen.json
  else echo '{"format":"enmp-lab-tuned/1","families":{}}' > public/tuned.gen.json; fi
  echo "web: public/enmp.wasm $(wc -c < public/enmp.wasm) bytes, gzipped $(wc -c < public/enmp.wasm.gz)"
}

chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "web: installing Debian's chromium"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium
    else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi
  fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
  build) build ;;
  dist)
    build
    go run ./internal/webdist -public public -shards "${SHARDS:-public/shards}" -family "${FAMILY:-vision}" -out dist/enmp.html
    ;;
  test)
    chromium
    build
    go run ./internal/webdist -public public -shards "${SHARDS:-public/shards}" -family vision -out dist/enmp.html
    ENMP_WEBTEST=1 go test -count=1 -timeout 40m ./webtest "$@"
    ;;
  bench)
    chromium
    build
    ENMP_WEBTEST=1 ENMP_BENCH=1 go test -count=1 -timeout 20m -run 'TestBench' -v ./webtest "$@"
    ;;
  *)
    echo "usage: scripts/web.sh build|dist|test|bench" >&2
    exit 2
    ;;
esac
