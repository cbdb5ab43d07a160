#!/usr/bin/env bash
# The main job of `realm` on the bundled example realms, start to finish.
#
# Works on copies in a temporary directory (the bank realm becomes a git
# repository there) with a private git cache; the repository is not touched.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$root/Cargo.toml" --bin realm --example runners --example grpc-bank
realm="$root/target/debug/realm"
examples="$root/target/debug/examples"

work=$(mktemp -d "${TMPDIR:-/tmp}/realm-demo.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Starts a background process, its output in $work/<name>.log.
background() { local name=$1; shift; "$@" >"$work/$name.log" 2>&1 & pids+=($!); }
# Waits until something listens on 127.0.0.1:<port>.
wait_port() {
  for _ in $(seq 1 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "nothing listens on port $1; logs:" >&2; tail -n 20 "$work"/*.log >&2; return 1
}
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

step "A gRPC server becomes a realm: realm import grpc from the grpc-bank example, committed, pinned"
background grpc-bank "$examples/grpc-bank" --listen 127.0.0.1:50051
wait_port 50051
"$realm" import grpc --endpoint http://127.0.0.1:50051 --name acme --output "$work/acme"
git -C "$work/acme" init -q -b main
commit "$work/acme" "acme realm, imported from gRPC"
"$realm" -C "$work/shop" add --git-repo ../acme

step "Serve: runners, and an ingress per realm (realm serve)"
background bank-runner "$examples/runners" bank 127.0.0.1:9101
background shop-runner "$examples/runners" shop 127.0.0.1:9102 http://127.0.0.1:8891
background bank-ingress "$realm" -C "$work/bank" serve
background acme-ingress "$realm" -C "$work/acme" serve --listen 127.0.0.1:8893
background shop-ingress "$realm" -C "$work/shop" serve
for port in 9101 9102 8891 8892 8893; do wait_port "$port"; done
head -n 4 "$work/shop-ingress.log"

step "shop -> bank: realm -C shop call balance.withdraw@bank (through the shop's and the bank's ingress)"
"$realm" -C "$work/shop" call balance.withdraw@bank '{"account": "a1", "amount": 500}'

step "A shop verb that calls the bank: checkout.pay -> shop runner -> balance.withdraw@bank"
"$realm" -C "$work/shop" call checkout.pay \
  '{"account": "a1", "items": [{"sku": "tea", "quantity": 2, "price": 300}], "tags": {}}'

step "shop -> the gRPC realm: account.getAccount@acme, JSON transcoded to protobuf and back"
"$realm" -C "$work/shop" call account.getAccount@acme '{"id": "a1"}'

step "Refused before any network hop: a wrong type (exit code 1)"
set +e
"$realm" -C "$work/shop" call balance.withdraw@bank '{"account": "a1", "amount": "lots"}'
echo "exit code: $?"
set -e

step "The shop ingress's upstreams (realm -C shop status)"
"$realm" -C "$work/shop" status

step "The ingresses' access logs (one line per call)"
grep -h " call " "$work/shop-ingress.log" "$work/bank-ingress.log" "$work/acme-ingress.log" | cut -c 29-
