#!/usr/bin/env bash
# Benchmarks snatch against curl, aria2c, yt-dlp and ffmpeg on loopback.
# Usage: bash benches/run.sh [--rounds N] [--quick] [--only SCENARIO[,SCENARIO...]] [--no-build]
#   SCENARIO: a-50ms b-50ms playlist dash batch a-nginx b-nginx rate bytes rss cli
# See benches/README.md. Installs nothing; a missing peer is skipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

build=1
args=()
for a in "$@"; do
    case "$a" in
        --no-build) build=0 ;;
        -h|--help) exec python3 "$here/bench.py" --help ;;
        *) args+=("$a") ;;
    esac
done

for tool in python3 ffmpeg ffprobe cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        if [[ "$tool" == cargo && $build == 0 ]]; then continue; fi
        echo "run.sh: $tool is required but not on PATH" >&2
        exit 2
    fi
done

# Every process the benchmark starts is written here by id; whatever is still
# alive when this script exits (normally, on error or on a signal) is stopped.
pidfile="$(mktemp "${TMPDIR:-/tmp}/snatch-bench-pids.XXXXXX")"
export BENCH_PIDFILE="$pidfile"
bench_pid=""
cleanup() {
    if [[ -n "$bench_pid" ]] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    if [[ -s "$pidfile" ]]; then
        while read -r pid; do
            # Each was started as the leader of its own process group.
            if kill -0 "$pid" 2>/dev/null; then
                kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
            fi
        done <"$pidfile"
    fi
    rm -f "$pidfile"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One benchmark at a time on this machine (the build included): a second run
# waits, so two runs never skew each other's timings.
mkdir -p target
if command -v flock >/dev/null 2>&1; then
    exec 9>>target/bench.lock
    if ! flock -n 9; then
        echo "another benchmark run holds target/bench.lock; waiting for it to finish ..." >&2
        flock 9
    fi
    export BENCH_LOCK_HELD=1
fi

if [[ $build == 1 ]]; then
    echo "building: cargo build --release --bin snatch --example segment-server" >&2
    cargo build --release --quiet --bin snatch --example segment-server
fi

python3 "$here/bench.py" "${args[@]+"${args[@]}"}" &
bench_pid=$!
wait "$bench_pid"
