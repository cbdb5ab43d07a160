#!/usr/bin/env bash
# The main job of `realm` on the bundled example realms, start to finish.
#
# Works on copies in a temporary directory (the bank realm becomes a git
# repository there) with a private git cache; the repository is not touched.
#
# Every process the demo starts listens on a port the system picks (port 0)
# and prints its address; the demo reads that address from the process's
# log and passes it on, so it only ever talks to its own processes, and it
# checks that every upstream of every ingress is one of them. If a process
# it started exits, the demo prints that process's log and fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi

if [ -n "${REALM_DEMO_PREBUILT:-}" ]; then
  # The test suite runs the demo with the binaries `cargo test` built: a
  # `cargo build` here would relink target/debug/realm (other features
  # than the tests') under the feet of the tests running beside it.
  echo "${bold}using the realm and examples in $REALM_DEMO_PREBUILT${plain}"
  realm="$REALM_DEMO_PREBUILT/realm"
  examples="$REALM_DEMO_PREBUILT/examples"
else
  echo "${bold}building realm (the first build takes several minutes)…${plain}"
  cargo build --manifest-path "$root/Cargo.toml" --bin realm --example runners --example grpc-bank
  target=${CARGO_TARGET_DIR:-$root/target}
  realm="$target/debug/realm"
  examples="$target/debug/examples"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/realm-demo.XXXXXX")
names=()
pids=()

# Prints the log of every process of the demo that has exited (once);
# fails if there is one.
check_alive() {
  local i dead=0
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      dead=1
      [ -e "$work/${names[$i]}.reported" ] && continue
      echo "error: ${names[$i]} (pid ${pids[$i]}) exited; its log:" >&2
      sed 's/^/  | /' "$work/${names[$i]}.log" >&2
      touch "$work/${names[$i]}.reported"
    fi
  done
  return "$dead"
}
cleanup() {
  local status=$?
  trap - EXIT
  if [ "$status" != 0 ]; then
    check_alive || true
    echo "the demo failed (exit $status); logs and copies are kept in $work" >&2
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$status" != 0 ] || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# Starts a background process, its output in $work/<name>.log.
background() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  names+=("$name")
  pids+=($!)
}
# Stops a background process of the demo; it is no longer checked.
stop() {
  local i
  for i in "${!names[@]}"; do
    if [ "${names[$i]}" = "$1" ]; then
      kill "${pids[$i]}" 2>/dev/null || true
      wait "${pids[$i]}" 2>/dev/null || true
      unset 'names[i]' 'pids[i]'
    fi
  done
}
# Waits (up to 60 s) for <name>'s log to print its address after <prefix>;
# prints it. Fails with the log if the process exits first.
address_of() {
  local name=$1 prefix=$2 url
  for _ in $(seq 1 600); do
    url=$(sed -n "s|^$prefix\(http[s]*://[0-9.:]*\).*|\1|p" "$work/$name.log" | head -n 1)
    if [ -n "$url" ]; then echo "$url"; return 0; fi
    check_alive || return 1
    sleep 0.1
  done
  echo "error: $name printed no address within 60 s; its log:" >&2
  sed 's/^/  | /' "$work/$name.log" >&2
  return 1
}
# Fails unless every upstream `realm status` shows for the ingress at $2
# is one of the demo's own addresses ($3...).
upstreams_are_ours() {
  local project=$1 ingress=$2
  shift 2
  local endpoint ours
  for endpoint in $("$realm" -C "$project" status --endpoint "$ingress" | awk 'NR > 2 && $3 ~ /^http/ { print $3 }'); do
    ours=no
    for url in "$@"; do [ "$endpoint" = "$url" ] && ours=yes; done
    if [ "$ours" = no ]; then
      echo "error: the ingress at $ingress would call $endpoint, which the demo did not start" >&2
      return 1
    fi
  done
}
step() {
  check_alive
  printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"
}
commit() { git -C "$1" add -A && git -C "$1" -c user.name=demo -c user.email=demo@example.com commit -qm "$2"; }

cp -R "$root/examples/bank" "$root/examples/shop" "$work/"
export REALM_CACHE_DIR="$work/cache"

step "Validate the bank realm and export its public API (realm -C bank export)"
"$realm" -C "$work/bank" export
"$realm" -C "$work/bank" export --check

step "Publish it: the bank realm is a git repository with the export committed"
git -C "$work/bank" init -q -b main
commit "$work/bank" "bank realm"
git -C "$work/bank" log --oneline

step "Pin the bank realm into the shop (realm -C shop add --git-repo ../bank)"
"$realm" -C "$work/shop" add --git-repo ../bank
sed -n '/\[external-realms.bank\]/,$p' "$work/shop/ftl-project.toml"

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
background grpc-bank "$examples/grpc-bank" --listen 127.0.0.1:0
grpc=$(address_of grpc-bank "grpc-bank listening on ")
echo "grpc-bank listens on $grpc"
"$realm" import grpc --endpoint "$grpc" --name acme --output "$work/acme"
git -C "$work/acme" init -q -b main
commit "$work/acme" "acme realm, imported from gRPC"
"$realm" -C "$work/shop" add --git-repo ../acme

step "The shop gets a key pair (realm -C shop keys new): the public key in its realm.toml, the private key outside"
mkdir -p "$work/keys"
"$realm" -C "$work/shop" keys new --key-file "$work/keys/shop.key"
"$realm" -C "$work/shop" export
git -C "$work/shop" init -q -b main
commit "$work/shop" "shop realm, with its key and its usage of the bank"

step "The bank pins the shop as a caller (realm -C bank add --caller --git-repo ../shop): its keys and usage at that commit"
"$realm" -C "$work/bank" add --caller --git-repo ../shop
"$realm" -C "$work/bank" list

step "Serve: runners, and an ingress per realm (realm serve --listen 127.0.0.1:0)"
background bank-runner "$examples/runners" bank 127.0.0.1:0
bank_runner=$(address_of bank-runner "bank runner listening on ")
background bank-ingress "$realm" -C "$work/bank" serve --listen 127.0.0.1:0 \
  --runner "balance=$bank_runner" --runner "audit=$bank_runner"
bank_ingress=$(address_of bank-ingress 'Serving realm `bank` on ')
# acme's runner is the gRPC server it was imported from: `realm import`
# wrote its address into acme's realm.toml.
background acme-ingress "$realm" -C "$work/acme" serve --listen 127.0.0.1:0
acme_ingress=$(address_of acme-ingress 'Serving realm `acme` on ')
# The shop's runner calls the bank through the shop's ingress, which starts
# after it: it reads the ingress's address from a file at each call.
background shop-runner "$examples/runners" shop 127.0.0.1:0 "@$work/shop-ingress.url"
shop_runner=$(address_of shop-runner "shop runner listening on ")
# The shop's ingress signs what it sends with the shop's key; the bank's
# checks it with the key of the commit it pinned. No secret is shared.
background shop-ingress env REALM_SIGNING_KEY_FILE="$work/keys/shop.key" \
  "$realm" -C "$work/shop" serve --listen 127.0.0.1:0 \
  --runner "checkout=$shop_runner" \
  --realm-endpoint "bank=$bank_ingress" --realm-endpoint "acme=$acme_ingress"
shop_ingress=$(address_of shop-ingress 'Serving realm `shop` on ')
echo "$shop_ingress" >"$work/shop-ingress.url"
cat <<EOF
grpc-bank     $grpc
bank runner   $bank_runner
shop runner   $shop_runner
bank ingress  $bank_ingress
acme ingress  $acme_ingress
shop ingress  $shop_ingress
EOF
upstreams_are_ours "$work/bank" "$bank_ingress" "$bank_runner"
upstreams_are_ours "$work/acme" "$acme_ingress" "$grpc"
upstreams_are_ours "$work/shop" "$shop_ingress" "$shop_runner" "$bank_ingress" "$acme_ingress"
echo "Every upstream of the three ingresses is a process of this demo."
awk 'NR == 1 || /^  / { print; next } { exit }' "$work/shop-ingress.log"
awk 'NR == 1 || /^  / { print; next } { exit }' "$work/bank-ingress.log"

step "shop -> bank: realm -C shop call balance.withdraw@bank (through the shop's and the bank's ingress)"
"$realm" -C "$work/shop" call balance.withdraw@bank '{"account": "a1", "amount": 500}' --endpoint "$shop_ingress"

step "A shop verb that calls the bank: checkout.pay -> shop runner -> balance.withdraw@bank"
"$realm" -C "$work/shop" call checkout.pay --endpoint "$shop_ingress" \
  '{"account": "a1", "items": [{"sku": "tea", "quantity": 2, "price": 300}], "tags": {}}'

step "shop -> the gRPC realm: account.getAccount@acme, JSON transcoded to protobuf and back"
"$realm" -C "$work/shop" call account.getAccount@acme '{"id": "a1"}' --endpoint "$shop_ingress"

step "Refused before any network hop: a wrong type (exit code 1)"
set +e
"$realm" -C "$work/shop" call balance.withdraw@bank '{"account": "a1", "amount": "lots"}' --endpoint "$shop_ingress"
echo "exit code: $?"
set -e

step "The bank refuses a call no realm it pins signed (exit code 1)"
set +e
"$realm" -C "$work/bank" call balance.withdraw '{"account": "a1", "amount": 500}' --endpoint "$bank_ingress"
echo "exit code: $?"
set -e

step "Before the bank changes its API, it asks its callers (realm -C bank check-callers): exit 3"
sed -i.bak 's/verb withdraw(/verb take(/' "$work/bank/modules/balance.ftl"
set +e
"$realm" -C "$work/bank" check-callers
echo "exit code: $?"
set -e
mv "$work/bank/modules/balance.ftl.bak" "$work/bank/modules/balance.ftl"

step "The shop ingress's upstreams (realm -C shop status)"
"$realm" -C "$work/shop" status --endpoint "$shop_ingress"

step "The ingresses' access logs (one line per call), each line with the ingress that wrote it"
# The access log is written by a background thread: wait (up to 5 s each)
# for the lines of the calls above: 5 through the shop (pay makes one of
# its own), 2 through the bank, 1 through acme.
for expected in shop:5 bank:2 acme:1; do
  name=${expected%:*}
  for _ in $(seq 1 50); do
    [ "$(grep -c ' call ' "$work/$name-ingress.log" || true)" -ge "${expected#*:}" ] && break
    sleep 0.1
  done
  # Each line: the ingress, then the line without its timestamp.
  grep ' call ' "$work/$name-ingress.log" | sed -E "s/^[^ ]+ +/[$name ingress] /" || true
done

step "Without the bank: realm -C shop fake bank answers from the pinned schema (the bank's runner and ingress stopped)"
stop bank-ingress
stop bank-runner
background bank-fake "$realm" -C "$work/shop" fake bank --listen 127.0.0.1:0
bank_fake=$(address_of bank-fake 'Serving realm `bank` on ')
stop shop-ingress
background shop-ingress-faked env REALM_SIGNING_KEY_FILE="$work/keys/shop.key" \
  "$realm" -C "$work/shop" serve --listen 127.0.0.1:0 \
  --runner "checkout=$shop_runner" \
  --realm-endpoint "bank=$bank_fake" --realm-endpoint "acme=$acme_ingress"
shop_ingress=$(address_of shop-ingress-faked 'Serving realm `shop` on ')
echo "$shop_ingress" >"$work/shop-ingress.url"
upstreams_are_ours "$work/shop" "$shop_ingress" "$shop_runner" "$bank_fake" "$acme_ingress"
"$realm" -C "$work/shop" call checkout.pay --endpoint "$shop_ingress" \
  '{"account": "a1", "items": [{"sku": "tea", "quantity": 2, "price": 300}], "tags": {}}'
"$realm" -C "$work/shop" call balance.withdraw@bank '{"account": "a1", "amount": 500}' --endpoint "$shop_ingress"

check_alive
printf '\n%sDone: every call above went through the demo'"'"'s own ingresses and runners.%s\n' "$bold" "$plain"
