#!/usr/bin/env bash
# `candor verify --full` of a 1,000,000-entry log served by `candor serve` on loopback.
# See docs/BENCHMARKS.md for what is measured and the latest figures.
#
#   bench/verify-full.sh                  # build release, make the log, measure
#   SKIP_BUILD=1 bench/verify-full.sh     # reuse target/release/candor (make_log is still
#                                         # built by cargo if it is out of date)
#   KEEP=DIR bench/verify-full.sh         # keep the site and data in DIR; a later run with the
#                                         # same KEEP reuses the log instead of making it again
#
# Tunables (environment): ENTRIES (1000000), BATCH (4096, revisions per record_revisions call
# while making the log), RUNS (3, timed verify runs), RESTARTS (3, timed restarts).
#
# Steps: (1) make a data dir holding ENTRIES log entries with the `make_log` bench binary
# (crates/candor/benches/make_log.rs: the store API, record_revisions in large batches);
# (2) start `candor serve` on it, which integrates the whole log, stores its tiles and signs a
# checkpoint before it answers, and time it until /log/checkpoint shows size ENTRIES;
# (3) restart it RESTARTS times (each start resumes the tree from the stored tiles);
# (4) time RUNS runs of `candor verify URL --key VKEY --state <new dir> --full`.
#
# Exits 1 when the median verify time is 30 s or more, 2 when the setup fails. All traffic goes
# to 127.0.0.1; every wait is bounded, and a trap stops candor (by PID) and removes the temp
# dir (unless KEEP is set) on every exit.
set -euo pipefail

ENTRIES=${ENTRIES:-1000000}
BATCH=${BATCH:-4096}
RUNS=${RUNS:-3}
RESTARTS=${RESTARTS:-3}
MAX_VERIFY_S=30 # the target from the issue

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/candor

# Settings from the environment would override the flags and config we pass.
unset CANDOR_CONFIG CANDOR_DATA_DIR CANDOR_LISTEN CANDOR_PUBLIC_URL CANDOR_DATABASE_URL \
    CANDOR_LOG_FORMAT
export RUST_LOG=${BENCH_RUST_LOG:-warn}

log() { printf '[verify-full-bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

# --- build ---------------------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building: cargo build --release -p candor"
    cargo build --release -p candor
fi
[[ -x "$BIN" ]] || die "$BIN not found (build it or unset SKIP_BUILD)"

# --- scratch space and cleanup -------------------------------------------------------------
if [[ -n "${KEEP:-}" ]]; then
    mkdir -p "$KEEP"
    WORK=$(cd "$KEEP" && pwd)
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/candor-verify-bench.XXXXXX")
fi
CANDOR_PID=""
stop_candor() {
    local pid=$CANDOR_PID
    CANDOR_PID=""
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317 # invoked through the trap
cleanup() {
    local status=$?
    set +e
    stop_candor
    [[ -n "${KEEP:-}" ]] || rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now_ns() { date +%s%N; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- the site and the log ------------------------------------------------------------------
SITE=$WORK/site
DATA=$WORK/data
mkdir -p "$SITE/content"
cat >"$SITE/candor.toml" <<'TOML'
version = 1

[site]
name = "Bench"
TOML
printf '+++\ntitle = "Bench"\npillar = "welcome"\nsummary = "Bench."\n+++\n' >"$SITE/content/index.md"

if [[ -f "$DATA/candor.db" && -f "$WORK/make_log.txt" ]]; then
    log "reusing the log in $DATA ($(cat "$WORK/make_log.txt"))"
else
    rm -rf "$DATA"
    log "making a $ENTRIES-entry log: cargo bench -p candor --bench make_log (BATCH=$BATCH)"
    BENCH_CONFIG=$SITE/candor.toml BENCH_DATA_DIR=$DATA ENTRIES=$ENTRIES BATCH=$BATCH \
        cargo bench -p candor --bench make_log | tee "$WORK/make_log.out"
    grep '^make_log:' "$WORK/make_log.out" | tail -1 >"$WORK/make_log.txt"
fi
DB_MB=$(du -sm "$DATA" | cut -f1)

PORT=$(free_port)
URL=http://127.0.0.1:$PORT/log

# Starts candor and waits (at most $1 seconds) until /log/checkpoint shows size ENTRIES;
# sets ELAPSED_NS to the nanoseconds from spawn to then (no subshell: CANDOR_PID must stick).
# One Python process polls every 10 ms: a curl per poll would fork ~50 times a second on the
# two cores the server being timed is using.
start_and_wait() {
    local limit=$1 t0 t1
    t0=$(now_ns)
    "$BIN" serve --config "$SITE/candor.toml" --data-dir "$DATA" --listen "127.0.0.1:$PORT" \
        >>"$WORK/candor.log" 2>&1 &
    CANDOR_PID=$!
    t1=$(python3 - "$PORT" "$ENTRIES" "$limit" "$CANDOR_PID" <<'PY'
import http.client, os, sys, time
port, want, limit, pid = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("candor exited during start")
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/log/checkpoint")
        lines = c.getresponse().read().decode("utf-8", "replace").split("\n")
        c.close()
        if len(lines) > 1 and lines[1] == want:
            print(time.time_ns())
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.01)
sys.exit("no checkpoint of size %s within %s s" % (want, limit))
PY
    ) || die "start failed; see $WORK/candor.log"
    ELAPSED_NS=$((t1 - t0))
}

had_checkpoint=no
[[ -f "$DATA/log-signing.key.checkpoint" ]] && had_checkpoint=yes
log "starting candor serve on 127.0.0.1:$PORT (integrates and signs on start)"
start_and_wait 600
FIRST_NS=$ELAPSED_NS
FIRST_RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$CANDOR_PID/status")
log "first start: checkpoint of size $ENTRIES after $(secs "$FIRST_NS") s (log already integrated: $had_checkpoint)"
stop_candor

RESTART_S=()
for ((i = 1; i <= RESTARTS; i++)); do
    start_and_wait 300
    ns=$ELAPSED_NS
    RESTART_S+=("$(secs "$ns")")
    log "restart $i: serving the checkpoint after $(secs "$ns") s"
    ((i == RESTARTS)) || stop_candor
done
RESTART_RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$CANDOR_PID/status")

# --- verify --------------------------------------------------------------------------------
VKEY=$(curl -sf --max-time 5 "$URL/key") || die "GET $URL/key failed"
VERIFY_S=()
VERIFY_CPU=()
for ((i = 1; i <= RUNS; i++)); do
    state=$(mktemp -d "$WORK/state.XXXXXX")
    t0=$(now_ns)
    # bash's `time` gives the user and system CPU seconds of the verify process.
    { TIMEFORMAT='%U %S'; time "$BIN" verify "$URL" --key "$VKEY" --state "$state" --full \
        >"$WORK/verify-$i.out" 2>&1; } 2>"$WORK/verify-$i.cpu" ||
        die "verify failed: $(cat "$WORK/verify-$i.out")"
    t1=$(now_ns)
    grep -q "all $ENTRIES entries downloaded and hashed to the checkpoint's root" "$WORK/verify-$i.out" ||
        die "unexpected verify output: $(cat "$WORK/verify-$i.out")"
    VERIFY_S+=("$(secs $((t1 - t0)))")
    VERIFY_CPU+=("$(awk '{ printf "%.1f", $1 + $2 }' "$WORK/verify-$i.cpu")")
    log "verify --full run $i: $(secs $((t1 - t0))) s wall, $(tail -1 "$WORK/verify-$i.cpu") s user/sys CPU"
    rm -rf "$state"
done
SERVER_CPU=$(awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$CANDOR_PID/stat")
stop_candor

VERIFY_MED=$(printf '%s\n' "${VERIFY_S[@]}" | median)
RESTART_MED=$(printf '%s\n' "${RESTART_S[@]}" | median)
MET=$(awk -v m="$VERIFY_MED" -v t="$MAX_VERIFY_S" 'BEGIN { print (m < t) ? "yes" : "NO" }')

mkdir -p "$REPO/bench/out"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$REPO/bench/out/verify-full-$STAMP.txt
{
    echo "candor verify --full of a $ENTRIES-entry log on loopback — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "log made with: $(cat "$WORK/make_log.txt"); data dir $DB_MB MB"
    if [[ $had_checkpoint == no ]]; then
        echo "first start (integrate $ENTRIES leaves, store their tiles, sign): $(secs "$FIRST_NS") s to the checkpoint, peak RSS $((FIRST_RSS_KB / 1024)) MB"
    else
        echo "first start (the reused log was integrated and signed before: a rebuild, like a restart): $(secs "$FIRST_NS") s, peak RSS $((FIRST_RSS_KB / 1024)) MB"
    fi
    echo "restarts (resume the tree of $ENTRIES leaves from the stored tiles): ${RESTART_S[*]} s, median $RESTART_MED s, peak RSS $((RESTART_RSS_KB / 1024)) MB"
    echo "verify --full wall: ${VERIFY_S[*]} s, median $VERIFY_MED s (target < $MAX_VERIFY_S s: $MET)"
    echo "verify --full CPU (user+sys): ${VERIFY_CPU[*]} s; server CPU during the verify runs and the last start: $SERVER_CPU s"
    echo "command: $BIN verify $URL --key <vkey> --state <new dir> --full"
} | tee "$OUT"
log "wrote $OUT"
[[ "$MET" == yes ]] || exit 1
