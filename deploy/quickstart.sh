#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts dejad
# on its embedded PostgreSQL under ./deja-data (or, as root in a checkout the
# postgres user cannot enter, /var/lib/deja/quickstart-data), loads the
# sample postmortems and asks "have we seen this before?" about a new outage.
# dejad keeps serving until Ctrl-C.
#   --once   stop dejad after the example queries (for scripts and CI)
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
[[ ${1:-} == --once ]] && once=1
listen=${DEJA_LISTEN:-127.0.0.1:50051}
http_listen=${DEJA_HTTP_LISTEN:-127.0.0.1:50052}
data_dir=${DEJA_DATA_DIR:-./deja-data}
build_dir=${DEJA_BUILD_DIR:-build}

./deploy/install-deps.sh
./deploy/build.sh --target dejad deja

# As root, dejad runs PostgreSQL as `postgres`, who must be able to enter
# every parent of the data dir; a clone under /root (mode 0700) is not. Only
# the default moves: an explicit DEJA_DATA_DIR gets dejad's own error.
if [[ -z ${DEJA_DATA_DIR:-} ]] && ((EUID == 0)) && id -u postgres >/dev/null 2>&1 &&
  ! runuser -u postgres -- test -x "$PWD"; then
  data_dir=/var/lib/deja/quickstart-data
  mkdir -p "$(dirname "$data_dir")"
  echo "quickstart: user postgres cannot enter $PWD, so the data goes to $data_dir"
fi
dejad=$build_dir/services/dejad
deja=$build_dir/cli/deja

log=$(mktemp /tmp/dejad-quickstart.XXXXXX.log)
echo "quickstart: starting dejad (data in $data_dir, log in $log)"
"$dejad" --listen "$listen" --http-listen "$http_listen" --data-dir "$data_dir" \
  >"$log.out" 2>"$log" &
pid=$!
stop() { kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 1 120); do
  grep -q "listening on" "$log.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { echo "quickstart: dejad failed to start:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.5
done
grep -q "listening on" "$log.out" || { echo "quickstart: dejad did not start in 60 s" >&2; cat "$log" >&2; exit 1; }
cat "$log.out"
export DEJA_SERVER=$listen

# Echoes the command as it could be pasted back (arguments with spaces or
# quotes in single quotes), then runs it.
run() {
  local shown="" arg
  for arg in "$@"; do
    if [[ $arg == *[[:space:]\'\"]* ]]; then
      shown+=" '${arg//\'/\'\\\'\'}'"
    else
      shown+=" $arg"
    fi
  done
  echo; echo "\$ deja$shown"; "$deja" "$@"
}
echo; echo "quickstart: loading the sample postmortems (samples/postmortems/)"
# --wait: each answer comes once search sees the postmortem.
run submit --wait samples/postmortems/*.json
run list --limit 5
# A new outage of the samples' orders-database family (03, 11, 22), as the
# on-call engineer would describe it: Deja says it has happened before, why
# it thinks so, what fixed it and which fixes are still open.
echo; echo "quickstart: have we seen this before?"
run seen "Checkout cannot create orders: postgres-orders refuses new connections and the order-api pods time out waiting for a pooled connection" \
  --log "2025-11-17 08:31:09.552 UTC [61877] invoice_export@orders FATAL:  sorry, too many clients already" \
  --service postgres-orders --limit 3
run search "certificate expired" --limit 3
# What keeps coming back: the indexer linked the samples' repeat families.
# It records those links just behind the index; wait until it has (10 s).
linked=0
for _ in $(seq 1 100); do
  status=$("$deja" admin index-status --json 2>/dev/null || true)
  if grep -Eq '"pending": *"0"' <<<"$status" && grep -Eq '"linkPending": *"0"' <<<"$status"; then
    linked=1; break
  fi
  sleep 0.1
done
((linked)) || echo "quickstart: note: the indexer is still recording recurrence links; the statistics below may miss some" >&2
echo; echo "quickstart: what keeps recurring, and did the fixes work?"
run stats overview
run stats recurrence --limit 3
run stats action-items --limit 3

if ((once)); then
  echo; echo "quickstart: done (--once); stopping dejad"
  exit 0
fi
echo
echo "quickstart: dejad is serving gRPC on $listen and HTTP on $http_listen (pid $pid)."
echo "quickstart: try $deja seen --help, $deja stats --help, curl http://$http_listen/v1/stats/overview, curl http://$http_listen/metrics"
echo "quickstart: press Ctrl-C to stop it."
trap 'stop; exit 0' INT TERM
wait "$pid"
