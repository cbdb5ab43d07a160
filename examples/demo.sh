#!/usr/bin/env bash
# The main job of `realm` on the bundled example realms, start to finish.
#
# Works on copies in a temporary directory; the repository is not touched.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$root/Cargo.toml"
realm="$root/target/debug/realm"

work=$(mktemp -d "${TMPDIR:-/tmp}/realm-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$root/examples/bank" "$root/examples/shop" "$work/"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }

step "Validate the bank realm and export its public API (realm -C bank export)"
"$realm" -C "$work/bank" export

step "CI drift check: the committed export is up to date (realm -C bank export --check)"
"$realm" -C "$work/bank" export --check

step "The bank's public API as proto-text (ftl-external-schema.txtpb)"
cat "$work/bank/ftl-external-schema.txtpb"

step "The shop realm's schema (realm -C shop schema)"
"$realm" -C "$work/shop" schema
