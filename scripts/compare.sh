#!/usr/bin/env bash
# Measures fetchadd's server modes beside redis-server (INCRBY) and
# memcached (incr), with the same load generator (fetchadd bench), on
# loopback, in one run. Linux: server CPU time comes from /proc/PID/stat.
#
#   scripts/compare.sh            (or: make compare)
#   DURATION=5s RUNS=3 CONNS=50 scripts/compare.sh
#
# Each target is measured RUNS times, the targets taking turns, and the
# median run (by ops/s) is printed. Redis and memcached are used when
# installed (Debian: apt-get install redis-server memcached) and skipped,
# with a note, when not. Where taskset exists, the servers run on CPU 1
# and the load generator on CPU 0.
#
# The durable targets: fetchadd's event mode with -state (a file in a
# temporary directory on the disk that holds /tmp, or STATE_DIR), and
# redis with --appendonly yes --appendfsync always (an fsync before each
# reply). flush/s is the disk's cache flushes per second during the run,
# from /sys/block/DEV/stat (one per fdatasync here): the machine's, so a
# figure only for the durable targets, which take turns alone.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
RUNS=${RUNS:-3}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-"1 32"}
IDLE=${IDLE:-10000}
BASE_PORT=${BASE_PORT:-51000}
BIN=bin/fetchadd

go build -o "$BIN" .

STATE_DIR=${STATE_DIR:-$(mktemp -d)}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$STATE_DIR/fetchadd-compare"; }
trap cleanup EXIT
mkdir -p "$STATE_DIR/fetchadd-compare"

# on CPU N: taskset where there is one.
server_cpu=() bench_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then server_cpu=(taskset -c 1) bench_cpu=(taskset -c 0); fi

# flushes: the cache flushes the disk under STATE_DIR has completed (the
# 16th field of its /sys/block stat), or 0 where the kernel does not say.
dev=$(basename "$(df --output=source "$STATE_DIR" | tail -1)")
flushes() { awk '{print ($16 == "" ? 0 : $16)}' "/sys/block/${dev%%[0-9]*}/stat" 2>/dev/null || echo 0; }

# wait_port PORT: wait until something accepts connections there.
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on port $1" >&2
	return 1
}

# cpu_ticks PID: user+system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

declare -A port pid proto
targets=()
add_target() { # NAME PORT PID PROTO
	targets+=("$1"); port[$1]=$2; pid[$1]=$3; proto[$1]=$4
}

p=$BASE_PORT
for mode in event poll threaded; do
	loops=()
	[ "$mode" = event ] && loops=(-loops "${LOOPS:-1}")
	"${server_cpu[@]}" "$BIN" serve -mode "$mode" "${loops[@]}" -addr "127.0.0.1:$p" 2>/dev/null &
	pids+=($!); add_target "fetchadd-$mode" "$p" $! fetchadd
	p=$((p + 1))
done
"${server_cpu[@]}" "$BIN" serve -mode event -loops "${LOOPS:-1}" -state "$STATE_DIR/fetchadd-compare/counter" -addr "127.0.0.1:$p" 2>/dev/null &
pids+=($!); add_target fetchadd-event-state "$p" $! fetchadd
p=$((p + 1))
if command -v redis-server >/dev/null; then
	"${server_cpu[@]}" redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
	pids+=($!); add_target redis "$p" $! redis
	p=$((p + 1))
	"${server_cpu[@]}" redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
		--dir "$STATE_DIR/fetchadd-compare" --daemonize no >/dev/null &
	pids+=($!); add_target redis-always "$p" $! redis
	p=$((p + 1))
else
	echo "note: redis-server is not installed (apt-get install redis-server): no redis figures"
fi
if command -v memcached >/dev/null; then
	"${server_cpu[@]}" memcached -p "$p" -U 0 -l 127.0.0.1 -u "$(id -un)" &
	pids+=($!); add_target memcached "$p" $! memcached
	p=$((p + 1))
else
	echo "note: memcached is not installed (apt-get install memcached): no memcached figures"
fi
for t in "${targets[@]}"; do wait_port "${port[$t]}"; done

echo "# $(date -u +%Y-%m-%d), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -sr)"
echo "# fetchadd bench -c $CONNS -d $DURATION, median of $RUNS runs; event mode with -loops ${LOOPS:-1}; ${server_cpu[*]:-no taskset:} servers, ${bench_cpu[*]:-} the load generator"
printf '%-22s %5s %10s %9s %9s %12s %12s %9s\n' target depth ops/s p50_ms p99_ms server_s/M bench_s/M flush/s
for depth in $DEPTHS; do
	declare -A results=()
	for run in $(seq "$RUNS"); do
		for t in "${targets[@]}"; do
			before=$(cpu_ticks "${pid[$t]}") f0=$(flushes) t0=$(date +%s.%N)
			line=$("${bench_cpu[@]}" "$BIN" bench -proto "${proto[$t]}" -c "$CONNS" -P "$depth" -d "$DURATION" "127.0.0.1:${port[$t]}" | grep '^result')
			after=$(cpu_ticks "${pid[$t]}") f1=$(flushes) t1=$(date +%s.%N)
			reqs=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")
			server=$(awk -v d=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN {printf "%.2f", n ? d / hz / n * 1e6 : 0}')
			fps=$(awk -v f=$((f1 - f0)) -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", f / (b - a)}')
			results[$t]+="$line server_s_per_M=$server flush_per_s=$fps"$'\n'
		done
	done
	for t in "${targets[@]}"; do
		# the median run by ops/s
		med=$(printf '%s' "${results[$t]}" | sed -E 's/.*ops_per_sec=([0-9]+).*/\1 &/' | sort -n | awk -v r="$RUNS" 'NR == int((r + 1) / 2)')
		get() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$med"; }
		printf '%-22s %5s %10s %9.3f %9.3f %12s %12s %9s\n' "$t" "$depth" "$(get ops_per_sec)" \
			"$(awk -v u="$(get p50_us)" 'BEGIN {print u / 1000}')" "$(awk -v u="$(get p99_us)" 'BEGIN {print u / 1000}')" \
			"$(get server_s_per_M)" "$(get bench_cpu_s_per_M)" "$(get flush_per_s)"
		if [ "$(get distinct)" != true ] || [ "$(get errors)" != 0 ]; then echo "  ^ $t: errors or repeated values: $med"; fi
	done
	unset results
done

# The event mode with IDLE idle connections: its memory, and an active
# client's latency meanwhile.
t=fetchadd-event
rss0=$(rss_kb "${pid[$t]}")
line=$("$BIN" bench -c 1 -P 1 -d 2s -idle "$IDLE" "127.0.0.1:${port[$t]}" | grep '^result')
echo "# $t with $IDLE idle connections: RSS $((rss0 / 1024)) MB before, $(( $(rss_kb "${pid[$t]}") / 1024 )) MB after (peak $(( $(awk '/^VmHWM/ {print $2}' "/proc/${pid[$t]}/status") / 1024 )) MB);" \
	"meanwhile one active client: $(sed -E 's/.*ops_per_sec=([0-9]+).* p50_us=([0-9]+) p99_us=([0-9]+).*/\1 ops\/s, p50 \2 us, p99 \3 us/' <<<"$line")"
