#!/usr/bin/env bash
# The verifiable-log benchmarks that run as cargo bench binaries (harness = false), one after
# the other, each output saved with the machine's details. See docs/BENCHMARKS.md.
#
#   bench/log.sh                      # merkle, journal, checkpoint_latency
#   bench/log.sh journal              # only the named ones
#
# Each binary reads its own tunables from the environment (ROUNDS, SIZES, PROOFS, BATCHES,
# ENTRIES, SCENARIOS, DURATION, ...; see the top of each file in crates/*/benches/).
# Writes bench/out/<name>-<UTC timestamp>.txt. Exits 1 when any benchmark reports a missed
# target (all of them still run), 2 when one fails to build or run.
# `candor verify --full` of a 1,000,000-entry log has its own script: bench/verify-full.sh.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
mkdir -p bench/out

names=("$@")
((${#names[@]})) || names=(merkle journal checkpoint_latency)

status=0
for name in "${names[@]}"; do
    case $name in
        merkle) package=candor-tlog ;;
        journal | checkpoint_latency) package=candor ;;
        *) echo "unknown benchmark $name (merkle, journal, checkpoint_latency)" >&2; exit 2 ;;
    esac
    out=bench/out/$name-$(date -u +%Y%m%dT%H%M%SZ).txt
    {
        echo "# cargo bench -p $package --bench $name — $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$out"
    echo "[log-bench] cargo bench -p $package --bench $name -> $out" >&2
    rc=0
    cargo bench -p "$package" --bench "$name" 2> >(grep -v '^\s*\(Compiling\|Finished\|Running\)' >&2) |
        tee -a "$out" || rc=$?
    echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
    # A binary that misses a target prints "-> MISSED" and exits 1, which cargo turns into 101,
    # like a panic: tell the two apart by the output.
    if grep -q -- '-> MISSED' "$out"; then
        status=$((status > 1 ? status : 1))
    elif ((rc != 0)); then
        echo "[log-bench] $name failed (exit $rc)" >&2
        status=2
    fi
done
exit "$status"
