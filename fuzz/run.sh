#!/usr/bin/env bash
# Fuzzes realm's input boundaries with cargo-fuzz (libFuzzer + AddressSanitizer).
#
#   bash fuzz/run.sh                     # every target, 60 s each
#   bash fuzz/run.sh schema_text 600     # one target, 10 minutes
#   bash fuzz/run.sh all 600             # every target, 10 minutes each
#
# Targets: schema_text (schema text through parse, validate, print and the
# public API), proto_text (a pinned realm's proto-text), json_body (a call's
# body as the ingress reads and checks it), go_source (FTL Go modules through
# the extractor), values (map keys and times against models), fast_path
# (the ingress's HTTP/1.1 fast path against hyper's path, differentially:
# two ingresses in the process, each with a recording runner). Crashes land in fuzz/artifacts/<target>/; reproduce one
# with `cargo fuzz run <target> <file>` from this directory.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:-all}
seconds=${2:-60}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz passes nightly-only flags (-Zsanitizer); the machine's stable
# toolchain accepts them this way. With a nightly toolchain this is moot.
export RUSTC_BOOTSTRAP=1

# The corpus starts from real inputs: the examples and the tests' fixtures.
seed() {
  local dir=corpus/$1; shift
  mkdir -p "$dir"
  for pattern in "$@"; do
    find .. -path ../target -prune -o -path ../fuzz -prune -o -name "$pattern" -type f -print |
      while read -r f; do cp "$f" "$dir/$(echo "$f" | tr '/' '_')"; done
  done
}
seed schema_text '*.ftl'
seed proto_text '*.txtpb'
seed go_source '*.go'
mkdir -p corpus/json_body && cp seeds/json_body/* corpus/json_body/
mkdir -p corpus/values && cp seeds/values/* corpus/values/
mkdir -p corpus/fast_path && cp seeds/fast_path/* corpus/fast_path/

targets=$(cargo fuzz list)
[ "$target" = all ] || targets=$target
mkdir -p logs
for t in $targets; do
  echo "== $t: $seconds s (whole log: fuzz/logs/$t.log)"
  # The whole log is kept: a panic's message is on the lines after it.
  cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1 2>&1 |
    tee "logs/$t.log" |
    grep -a -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Test unit written|thread .* panicked)' || true
done
