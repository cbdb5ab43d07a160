#!/usr/bin/env bash
# The main job of `realm` on the bundled example realms, start to finish.
#
# Works on copies in a temporary directory (the bank realm becomes a git
# repository there) with a private git cache; the repository is not touched.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$root/Cargo.toml"
realm="$root/target/debug/realm"

work=$(mktemp -d "${TMPDIR:-/tmp}/realm-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$root/examples/bank" "$root/examples/shop" "$work/"
export REALM_CACHE_DIR="$work/cache"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
commit() { git -C "$1" add -A && git -C "$1" -c user.name=demo -c user.email=demo@example.com commit -qm "$2"; }

step "Validate the bank realm and export its public API (realm -C bank export)"
"$realm" -C "$work/bank" export
"$realm" -C "$work/bank" export --check

step "Publish it: the bank realm is a git repository with the export committed"
git -C "$work/bank" init -q -b main
commit "$work/bank" "bank realm"
git -C "$work/bank" log --oneline

step "Pin the bank realm into the shop (realm -C shop add --git-repo ../bank)"
"$realm" -C "$work/shop" add --git-repo ../bank
sed -n '/\[realms.egress.bank\]/,$p' "$work/shop/ftl-project.toml"

step "The pins (realm -C shop list)"
"$realm" -C "$work/shop" list

step "The shop's combined schema: external realm bank and realm shop (realm -C shop schema)"
"$realm" -C "$work/shop" schema

step "The bank changes its public API and publishes it"
sed -i.bak -e '/data WithdrawResponse/,/}/ s/^    balance Int$/    balance Int\n    \/\/ When the withdrawal was booked.\n    bookedAt Time?/' \
    -e 's/^    amount Int$/    amount Float/' "$work/bank/modules/balance.ftl"
rm -f "$work/bank/modules/balance.ftl.bak"
"$realm" -C "$work/bank" export
commit "$work/bank" "bank: amount in Float, bookedAt"

step "CI drift check in the shop (realm -C shop update --check): exit 3 and the diff"
set +e
"$realm" -C "$work/shop" update --check
echo "exit code: $?"
set -e

step "Move the pin (realm -C shop update)"
"$realm" -C "$work/shop" update
"$realm" -C "$work/shop" list
