#!/usr/bin/env bash
# Runs fuzz targets on copies of their committed corpora, so runs never write into the repository.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (default: every target)
# Each target runs SECONDS on BUILD_DIR/fuzz-work/TARGET/corpus (the committed seeds plus whatever
# earlier runs found there), with its dictionary when it has one. Crashes, leaks and timeouts are
# written to BUILD_DIR/fuzz-work/TARGET/artifacts/. Exits non-zero if any target found something.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}"
seconds="${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}"
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_http_request fuzz_event_json fuzz_connector_settings fuzz_record_decode fuzz_grpc_decode
           fuzz_h2_grpc)
fi

failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is not built" >&2
    exit 2
  fi
  work="$build/fuzz-work/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -n "$here/corpus/$t/"* "$work/corpus/" 2>/dev/null || true
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/artifacts/")
  [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
  [ "$t" = fuzz_http_request ] && args+=(-max_len=8192)
  echo "fuzz: $t for ${seconds}s" >&2
  if ! "$bin" "${args[@]}" "$work/corpus" >"$work/log" 2>&1; then
    failed+=("$t")
    tail -n 60 "$work/log" >&2
  fi
  grep -E "^stat::|DONE" "$work/log" | tr '\n' ' ' >&2
  echo >&2
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}; inputs under $build/fuzz-work/*/artifacts/" >&2
  exit 1
fi
