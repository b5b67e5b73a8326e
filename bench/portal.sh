#!/usr/bin/env bash
# Portal page cache vs nginx: throughput, latency, idle RSS and start-to-first-200 of
# `candor serve` with the Acme demo, against nginx serving the very same bytes and headers as
# a static file. See docs/BENCHMARKS.md for what is measured and the latest figures.
#
#   bench/portal.sh                 # build release, measure, write bench/out/portal-<ts>.txt
#   SKIP_BUILD=1 bench/portal.sh    # reuse target/release/candor
#
# Tunables (environment): ROUNDS (3), DURATION (10, seconds per wrk round), WARMUP (3),
# CONNECTIONS (64), THREADS (2), STARTS (5, fresh starts for start-to-first-200),
# BENCH_BIN (another candor binary; implies SKIP_BUILD=1), PERF=1 (record a perf profile of
# candor during one extra wrk run, if perf is installed).
#
# Exits non-zero when a target is missed: throughput ratio < 0.7, idle RSS >= 40 MB, or
# median cold start-to-first-200 >= 300 ms. All traffic goes to 127.0.0.1; every loop and
# every wrk run is bounded in time, and a trap stops candor and nginx and removes temp dirs.
#
# Not for CI: it installs nginx and wrk from apt when they are missing, and refuses to do so
# when CI is set.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
STARTS=${STARTS:-5}
PERF=${PERF:-0}

# Targets from the issue.
MIN_RATIO=0.7
MAX_IDLE_RSS_KB=$((40 * 1024))
MAX_START_MS=300

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
CONFIG=examples/acme/candor.toml
BIN=${BENCH_BIN:-$REPO/target/release/candor} # BENCH_BIN: only to try the script itself
PAGE=/security

# Settings from the environment would override the flags and config we pass.
unset CANDOR_CONFIG CANDOR_DATA_DIR CANDOR_LISTEN CANDOR_PUBLIC_URL CANDOR_DATABASE_URL \
    CANDOR_LOG_FORMAT
export RUST_LOG=${BENCH_RUST_LOG:-warn}

log() { printf '[portal-bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# --- tools ---------------------------------------------------------------------------------
missing=()
for tool in nginx wrk; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
done
if ((${#missing[@]})); then
    if [[ -n "${CI:-}" ]]; then
        die "missing ${missing[*]}; this benchmark does not install packages in CI"
    fi
    log "installing ${missing[*]} from apt"
    SUDO=()
    [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y nginx wrk
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in curl python3 wrk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

# --- build ---------------------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 && -z "${BENCH_BIN:-}" ]]; then
    log "building: cargo build --release -p candor"
    cargo build --release -p candor
fi
[[ -x "$BIN" ]] || die "$BIN not found (build it or unset SKIP_BUILD)"

# --- scratch space and cleanup -------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/candor-portal-bench.XXXXXX")
CANDOR_PID=""
NGINX_PID=""
# shellcheck disable=SC2317 # invoked through the trap
cleanup() {
    local status=$?
    set +e
    for pid in "$CANDOR_PID" "$NGINX_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# The checked-out commit, read from .git without running git (unknown when not found).
revision() {
    local head ref
    head=$(cat "$REPO/.git/HEAD" 2>/dev/null) || { echo unknown-rev; return; }
    if [[ $head == ref:* ]]; then
        ref=${head#ref: }
        head=$(cat "$REPO/.git/$ref" 2>/dev/null ||
            awk -v r="$ref" '$2 == r {print $1}' "$REPO/.git/packed-refs" 2>/dev/null || true)
    fi
    if [[ -n $head ]]; then echo "${head:0:12}"; else echo unknown-rev; fi
}
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

# Polls a URL until it answers 200, for at most $2 seconds.
wait_200() {
    local url=$1 limit=$2 i
    for ((i = 0; i < limit * 20; i++)); do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true) == 200 ]]; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# --- start-to-first-200 --------------------------------------------------------------------
# A small Python driver: the clock starts just before the process is spawned and stops at the
# first "HTTP/1.1 200" read from GET /security. It polls every millisecond with a raw socket
# (cheaper than forking curl on 2 cores). Each start is stopped with SIGTERM before the next.
cat >"$WORK/first200.py" <<'PY'
import os, signal, socket, statistics, subprocess, sys, tempfile, time

binary, config, page, mode, count, scratch = sys.argv[1:7]
count = int(count)

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def answers_200(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return False
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n"
                   "Connection: close\r\n\r\n" % page).encode())
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(256)
            if not chunk:
                break
            head += chunk
        return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()

def one_start(data_dir):
    port = free_port()
    errlog = open(os.path.join(scratch, "first200-candor.log"), "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "serve", "--config", config, "--listen", "127.0.0.1:%d" % port,
         "--data-dir", data_dir],
        stdout=subprocess.DEVNULL, stderr=errlog)
    elapsed = None
    try:
        deadline = t0 + 10.0
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise SystemExit("candor exited with %s during start; see its log" % proc.returncode)
            if answers_200(port):
                elapsed = (time.perf_counter() - t0) * 1000.0
                break
            time.sleep(0.001)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errlog.close()
    if elapsed is None:
        raise SystemExit("no 200 from %s within 10 s" % page)
    return elapsed

times = []
if mode == "cold":
    for i in range(count):
        times.append(one_start(tempfile.mkdtemp(prefix="cold-", dir=scratch)))
else:
    data_dir = tempfile.mkdtemp(prefix="warm-", dir=scratch)
    one_start(data_dir)  # creates and migrates the database; not counted
    for i in range(count):
        times.append(one_start(data_dir))
print("%.1f %.1f %.1f %s" % (min(times), statistics.median(times), max(times),
                             ",".join("%.1f" % t for t in times)))
PY

log "start-to-first-200: $STARTS cold starts (fresh data dir each)"
COLD=$(python3 "$WORK/first200.py" "$BIN" "$CONFIG" "$PAGE" cold "$STARTS" "$WORK")
read -r COLD_BEST COLD_MEDIAN COLD_WORST COLD_ALL <<<"$COLD"
log "start-to-first-200: $STARTS warm starts (existing data dir)"
WARM=$(python3 "$WORK/first200.py" "$BIN" "$CONFIG" "$PAGE" warm "$STARTS" "$WORK")
read -r WARM_BEST WARM_MEDIAN WARM_WORST WARM_ALL <<<"$WARM"

# --- candor under test ---------------------------------------------------------------------
CANDOR_PORT=$(free_port)
mkdir -p "$WORK/candor-data"
log "starting candor on 127.0.0.1:$CANDOR_PORT"
"$BIN" serve --config "$CONFIG" --listen "127.0.0.1:$CANDOR_PORT" \
    --data-dir "$WORK/candor-data" >"$WORK/candor.log" 2>&1 &
CANDOR_PID=$!
CANDOR_URL="http://127.0.0.1:$CANDOR_PORT"
wait_200 "$CANDOR_URL/readyz" 30 || { cat "$WORK/candor.log" >&2; die "candor never became ready"; }

# The brotli pass runs in the background after start; let it finish so it neither steals CPU
# from the load test nor inflates "idle". It does the 404 page last, so a br-encoded 404 means
# every entry is done.
BROTLI_DONE=no
for _ in $(seq 600); do
    enc=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: br' "$CANDOR_URL/no-such-page-bench" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" {print $2}')
    if [[ "$enc" == br ]]; then BROTLI_DONE=yes; break; fi
    sleep 0.1
done
[[ $BROTLI_DONE == yes ]] || log "warning: brotli pass not finished after 60 s"
sleep 2
IDLE_RSS_KB=$(rss_kb "$CANDOR_PID")
IDLE_HWM_KB=$(hwm_kb "$CANDOR_PID")
log "idle RSS: $(mb "$IDLE_RSS_KB") MB (peak so far $(mb "$IDLE_HWM_KB") MB)"

# --- the bytes and headers to mirror -------------------------------------------------------
curl -s --fail -H 'Accept-Encoding: gzip' -D "$WORK/candor.headers" -o "$WORK/candor.body" \
    "$CANDOR_URL$PAGE"
header() { # header NAME FILE -> value (first occurrence), CR stripped
    tr -d '\r' <"$2" | awk -v want="$1" 'BEGIN { IGNORECASE = 1 }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == want) {
            print substr($0, i + 2); exit } }'
}
MIRRORED=(content-type cache-control etag vary content-encoding content-security-policy
    x-content-type-options referrer-policy x-frame-options cross-origin-opener-policy
    cross-origin-resource-policy permissions-policy strict-transport-security)
[[ $(header content-encoding "$WORK/candor.headers") == gzip ]] ||
    die "candor did not answer $PAGE with gzip"

mkdir -p "$WORK/www" "$WORK/nginx/logs" "$WORK/nginx/tmp"
cp "$WORK/candor.body" "$WORK/www/security"
NGINX_PORT=$(free_port)
nginx_headers=""
for name in "${MIRRORED[@]}"; do
    value=$(header "$name" "$WORK/candor.headers")
    [[ -z "$value" ]] && continue
    [[ "$name" == content-type ]] && continue # served through default_type below
    # nginx config strings: single-quoted, escape backslashes and single quotes.
    esc=${value//\\/\\\\}
    esc=${esc//\'/\\\'}
    nginx_headers+="            add_header $name '$esc' always;"$'\n'
done
CONTENT_TYPE=$(header content-type "$WORK/candor.headers")
user_line=""
if [[ $(id -u) -eq 0 ]]; then user_line="user $(id -un) $(id -gn);"; fi

cat >"$WORK/nginx/nginx.conf" <<EOF
# Written by bench/portal.sh. worker_processes auto = one worker per core (2 here), the same
# parallelism as candor's tokio runtime (one worker thread per core).
$user_line
worker_processes auto;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    # hyper keeps a connection open for any number of requests; do the same so that both
    # servers see the same 64 long-lived connections from wrk.
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    gzip off;
    etag off;
    max_ranges 0;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    types {}
    default_type '$CONTENT_TYPE';
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location = $PAGE {
$nginx_headers            # An empty Last-Modified removes the one the static handler adds.
            add_header Last-Modified '' always;
        }
    }
}
EOF
# The static file must be readable by the worker user.
chmod 755 "$WORK" "$WORK/www"
chmod 644 "$WORK/www/security"

"$NGINX" -t -q -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" ||
    die "nginx rejected the generated config ($WORK/nginx/nginx.conf)"
log "starting nginx on 127.0.0.1:$NGINX_PORT"
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
wait_200 "$NGINX_URL$PAGE" 10 || { cat "$WORK/nginx/logs/error.log" >&2; die "nginx did not start"; }

# --- same bytes, same headers --------------------------------------------------------------
curl -s --fail -H 'Accept-Encoding: gzip' -D "$WORK/nginx.headers" -o "$WORK/nginx.body" \
    "$NGINX_URL$PAGE"
# The full header set of each, minus what necessarily differs: the date, and nginx's
# "Server: nginx" (stock nginx cannot drop it; candor sends none).
normalize() {
    tr -d '\r' <"$1" | tail -n +2 | awk 'NF {
        i = index($0, ":"); name = tolower(substr($0, 1, i - 1)); value = substr($0, i + 2)
        if (name != "date" && name != "server" && name != "connection" && name != "keep-alive")
            print name ": " value }' | sort
}
normalize "$WORK/candor.headers" >"$WORK/candor.norm"
normalize "$WORK/nginx.headers" >"$WORK/nginx.norm"
STATUS_C=$(head -1 "$WORK/candor.headers" | awk '{print $2}')
STATUS_N=$(head -1 "$WORK/nginx.headers" | awk '{print $2}')
[[ $STATUS_C == 200 && $STATUS_N == 200 ]] || die "status candor=$STATUS_C nginx=$STATUS_N"
cmp -s "$WORK/candor.body" "$WORK/nginx.body" || die "bodies differ"
if ! diff -u "$WORK/candor.norm" "$WORK/nginx.norm" >"$WORK/headers.diff"; then
    cat "$WORK/headers.diff" >&2
    die "header sets differ (see diff above)"
fi
BODY_BYTES=$(stat -c %s "$WORK/candor.body")
IDENTITY_BYTES=$(curl -s "$CANDOR_URL$PAGE" | wc -c)
log "verified: both 200, same $BODY_BYTES-byte gzip body, same $(wc -l <"$WORK/candor.norm") headers"

# --- load ----------------------------------------------------------------------------------
# wrk output -> "req_per_s p50_ms p99_ms non2xx socket_errors"
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
            if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { errs = $0; gsub(/[^0-9 ]/, "", errs); split(errs, e, " ");
                           errsum = e[1] + e[2] + e[3] + e[4] }
        END { printf "%s %.3f %.3f %d %d\n", rps, p50, p99, non2xx + 0, errsum + 0 }' "$1"
}
run_wrk() { # run_wrk NAME URL SECONDS OUTFILE
    timeout $(($3 + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"$3s" --timeout 5s --latency \
        -H 'Accept-Encoding: gzip' "$2$PAGE" >"$4"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "warm-up: ${WARMUP}s each"
run_wrk candor "$CANDOR_URL" "$WARMUP" "$WORK/warm-candor.txt"
run_wrk nginx "$NGINX_URL" "$WARMUP" "$WORK/warm-nginx.txt"

declare -a C_RPS C_P50 C_P99 N_RPS N_P50 N_P99
ROUND_LINES=""
for ((r = 1; r <= ROUNDS; r++)); do
    for who in candor nginx; do
        if [[ $who == candor ]]; then url=$CANDOR_URL; else url=$NGINX_URL; fi
        log "round $r/$ROUNDS: $who, ${DURATION}s"
        run_wrk "$who" "$url" "$DURATION" "$WORK/round$r-$who.txt"
        read -r rps p50 p99 non2xx errs < <(parse_wrk "$WORK/round$r-$who.txt")
        [[ -n "$rps" ]] || { cat "$WORK/round$r-$who.txt" >&2; die "cannot parse wrk output"; }
        ((non2xx == 0)) || die "$who answered $non2xx non-2xx responses in round $r"
        ((errs == 0)) || log "warning: $who had $errs socket errors in round $r"
        if [[ $who == candor ]]; then
            C_RPS+=("$rps"); C_P50+=("$p50"); C_P99+=("$p99")
        else
            N_RPS+=("$rps"); N_P50+=("$p50"); N_P99+=("$p99")
        fi
        ROUND_LINES+=$(printf '  round %d  %-6s  %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms' \
            "$r" "$who" "$rps" "$p50" "$p99")$'\n'
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
C_RPS_MED=$(median "${C_RPS[@]}"); N_RPS_MED=$(median "${N_RPS[@]}")
C_P50_MED=$(median "${C_P50[@]}"); N_P50_MED=$(median "${N_P50[@]}")
C_P99_MED=$(median "${C_P99[@]}"); N_P99_MED=$(median "${N_P99[@]}")
RATIO=$(awk -v c="$C_RPS_MED" -v n="$N_RPS_MED" 'BEGIN { printf "%.3f", c / n }')

sleep 2
LOADED_RSS_KB=$(rss_kb "$CANDOR_PID")
LOADED_HWM_KB=$(hwm_kb "$CANDOR_PID")

# --- optional profile ----------------------------------------------------------------------
PERF_NOTE=""
if [[ $PERF == 1 ]]; then
    if command -v perf >/dev/null 2>&1; then
        mkdir -p bench/out
        PERF_TXT="bench/out/portal-perf-$(date -u +%Y%m%dT%H%M%SZ).txt"
        log "perf: recording candor during one more ${DURATION}s wrk run"
        perf record -F 999 -g -o "$WORK/perf.data" -p "$CANDOR_PID" -- sleep "$DURATION" \
            >/dev/null 2>&1 &
        perf_pid=$!
        run_wrk candor "$CANDOR_URL" "$DURATION" "$WORK/perf-wrk.txt"
        wait "$perf_pid" || true
        {
            echo "# candor under wrk -t$THREADS -c$CONNECTIONS, ${DURATION}s; self time by object"
            perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none \
                2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 15
            echo
            echo "# self time by symbol (top 80)"
            perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none \
                2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 80 | cut -c1-180
        } >"$PERF_TXT" || true
        PERF_NOTE="perf profile (self time, top symbols): $PERF_TXT"
    else
        PERF_NOTE="perf requested but not installed"
    fi
fi

# --- verdict -------------------------------------------------------------------------------
pass() { if [[ $1 == 1 ]]; then echo met; else echo MISSED; fi; }
RATIO_OK=$(awk -v r="$RATIO" -v m="$MIN_RATIO" 'BEGIN { print (r >= m) ? 1 : 0 }')
RSS_OK=$((IDLE_RSS_KB < MAX_IDLE_RSS_KB ? 1 : 0))
START_OK=$(awk -v t="$COLD_MEDIAN" -v m="$MAX_START_MS" 'BEGIN { print (t < m) ? 1 : 0 }')

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/out
OUT="bench/out/portal-$STAMP.txt"
{
    echo "Candor portal page cache vs nginx — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
        "kernel $(uname -r); load average before load $LOAD_BEFORE, after $LOAD_AFTER"
    echo "candor: $BIN ($(revision))"
    echo "nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes auto ($(nproc) workers)"
    echo "wrk: -t$THREADS -c$CONNECTIONS --latency -H 'Accept-Encoding: gzip', warm-up ${WARMUP}s each," \
        "$ROUNDS rounds x ${DURATION}s alternating candor/nginx (wrk shares the same cores)"
    echo "page: GET $PAGE, gzip body $BODY_BYTES bytes (identity $IDENTITY_BYTES bytes)," \
        "$(wc -l <"$WORK/candor.norm") identical headers:"
    sed 's/^/    /' "$WORK/candor.norm"
    echo "  (not compared: date; nginx also sends \"server: nginx\", candor sends no server header)"
    echo
    echo "per round:"
    printf '%s' "$ROUND_LINES"
    echo
    echo "median of rounds:"
    printf '  candor  %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms\n' "$C_RPS_MED" "$C_P50_MED" "$C_P99_MED"
    printf '  nginx   %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms\n' "$N_RPS_MED" "$N_P50_MED" "$N_P99_MED"
    echo
    echo "throughput ratio candor/nginx: $RATIO (target >= $MIN_RATIO): $(pass "$RATIO_OK")"
    echo "idle RSS: $(mb "$IDLE_RSS_KB") MB (target < 40 MB): $(pass "$RSS_OK");" \
        "peak before load $(mb "$IDLE_HWM_KB") MB"
    echo "RSS after load: $(mb "$LOADED_RSS_KB") MB; peak $(mb "$LOADED_HWM_KB") MB"
    echo "start-to-first-200, cold (fresh data dir), $STARTS starts: median ${COLD_MEDIAN} ms," \
        "best ${COLD_BEST} ms, worst ${COLD_WORST} ms [$COLD_ALL] (target median < ${MAX_START_MS} ms): $(pass "$START_OK")"
    echo "start-to-first-200, warm (existing data dir), $STARTS starts: median ${WARM_MEDIAN} ms," \
        "best ${WARM_BEST} ms, worst ${WARM_WORST} ms [$WARM_ALL]"
    if [[ -n "$PERF_NOTE" ]]; then echo "$PERF_NOTE"; fi
} | tee "$OUT"
log "summary written to $OUT"

if [[ $RATIO_OK == 1 && $RSS_OK == 1 && $START_OK == 1 ]]; then
    exit 0
fi
log "one or more targets missed"
exit 1
