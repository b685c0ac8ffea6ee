#!/usr/bin/env bash
# The counter in etcd, measured beside the state file (make compare-etcd;
# docs/etcd.md has a table of its figures): adds/s and latency p50/p99
# through one fetchadd-etcd owner over one etcd member and over three,
# CONNS connections at each of DEPTHS, with fetchadd bench; beside the
# disk's raw rate of synced writes (dd oflag=dsync: a write and its
# fdatasync, one after the other) and fetchadd serve -state FILE; and the
# takeover: with a standby running, kill -9 the owner, and the time until
# the standby serves an add, RUNS times. Each load is measured RUNS times
# and the median run (by adds/s) printed. Linux, with Debian's etcd
# (apt-get install etcd-server); the members' data and the state file on
# the disk that holds /tmp (or STATE_DIR).
#
#   scripts/compare-etcd.sh                    (or: make compare-etcd)
#   DURATION=5s RUNS=3 CONNS=50 DEPTHS="1 32" LEASE=3s scripts/compare-etcd.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
RUNS=${RUNS:-3}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-"1 32"}
LEASE=${LEASE:-3s}
# Ports BASE_PORT and up: below the kernel's range for clients' ports,
# where a client's socket in TIME_WAIT would make a bind fail.
BASE_PORT=${BASE_PORT:-31300}
STATE_DIR=${STATE_DIR:-$(mktemp -d)}
dir=$(mktemp -d -p "$STATE_DIR")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
command -v etcd >/dev/null || { echo "compare-etcd.sh: no etcd (Debian: apt-get install etcd-server)" >&2; exit 1; }

go build -o bin/fetchadd .
(cd etcd && go build -o ../bin/fetchadd-etcd ./cmd/fetchadd-etcd)

# wait_port PORT: wait until something accepts connections there (10 s).
wait_port() {
	for _ in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "compare-etcd.sh: nothing listens on port $1" >&2
	return 1
}

# add PORT: one add of 0 on a new connection; prints the reply.
add() {
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf '0\n' >&3
	IFS= read -r -t 10 reply <&3 || true
	exec 3>&-
	printf '%s\n' "${reply%$'\r'}"
}

# until_served PORT: wait until an add there is served (30 s).
until_served() {
	for _ in $(seq 3000); do
		case $(add "$1" 2>/dev/null) in "  --> "*) return 0 ;; esac
		sleep 0.01
	done
	echo "compare-etcd.sh: port $1 serves no add" >&2
	return 1
}

# etcd_cluster N FIRST_PORT: starts an N-member cluster on ports from
# FIRST_PORT (a client and a peer port each); its endpoints in $endpoints.
etcd_cluster() {
	local n=$1 p=$2 initial="" i
	endpoints=""
	for ((i = 0; i < n; i++)); do
		initial+="${initial:+,}m$i=http://127.0.0.1:$((p + 2 * i + 1))"
		endpoints+="${endpoints:+,}127.0.0.1:$((p + 2 * i))"
	done
	for ((i = 0; i < n; i++)); do
		etcd --name "m$i" --data-dir "$dir/etcd-$p-$i" \
			--listen-client-urls "http://127.0.0.1:$((p + 2 * i))" --advertise-client-urls "http://127.0.0.1:$((p + 2 * i))" \
			--listen-peer-urls "http://127.0.0.1:$((p + 2 * i + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((p + 2 * i + 1))" \
			--initial-cluster "$initial" --initial-cluster-state new \
			--auto-compaction-mode revision --auto-compaction-retention 10000 \
			--log-level error --logger zap >"$dir/etcd-$p-$i.log" 2>&1 &
		pids+=($!)
	done
}

# frontend ENDPOINTS PORT: starts fetchadd-etcd there; its pid in $fe_pid.
frontend() {
	bin/fetchadd-etcd -endpoints "$1" -addr "127.0.0.1:$2" -lease "$LEASE" -idle 0 2>>"$dir/fe-$2.log" &
	fe_pid=$!
	pids+=($!)
	disown $! # its kill -9 is no news
}

# bench PORT DEPTH: RUNS loads; prints the median's adds/s p50 p99 errors.
bench() {
	local i
	for ((i = 0; i < RUNS; i++)); do
		bin/fetchadd bench -c "$CONNS" -P "$2" -d "$DURATION" "127.0.0.1:$1" | grep '^result' |
			sed -E 's/.*ops_per_sec=([0-9]+).*p50_us=([0-9]+).*p99_us=([0-9]+).*errors=([0-9]+).*/\1 \2 \3 \4/'
	done | sort -n | awk -v m=$(((RUNS + 1) / 2)) 'NR == m {printf "%9d adds/s  p50 %7.2f ms  p99 %7.2f ms  errors %d\n", $1, $2 / 1000, $3 / 1000, $4}'
}

row() { printf '%-34s %s\n' "$1" "$2"; }

echo "compare-etcd: $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -sr), $(etcd --version | head -1), $CONNS connections, $DURATION a run, median of $RUNS"

# The disk: synced writes of 512 bytes, one after the other.
dd if=/dev/zero of="$dir/dd" bs=512 count=1000 oflag=dsync 2>"$dir/dd.out"
row "raw: write + fdatasync" "$(awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") printf "%9d syncs/s", 1000 / $(i - 1)}' "$dir/dd.out")"

port=$BASE_PORT
bin/fetchadd serve -mode event -addr "127.0.0.1:$port" -idle 0 -state "$dir/counter" 2>/dev/null &
pids+=($!)
wait_port $port
for d in $DEPTHS; do row "-state FILE, depth $d" "$(bench $port "$d")"; done

for n in 1 3; do
	etcd_cluster $n $((BASE_PORT + 10 * n))
	fe=$((BASE_PORT + 100 + n))
	frontend "$endpoints" $fe
	wait_port $fe
	until_served $fe
	for d in $DEPTHS; do row "etcd, $n member(s), depth $d" "$(bench $fe "$d")"; done
done

# Takeover: the owner on fe, a standby on sb; kill -9 the owner, time
# until the standby serves an add; then the killed one comes back as the
# standby, and the roles swap.
fe=$((BASE_PORT + 103)) sb=$((BASE_PORT + 104))
owner=$fe_pid
frontend "$endpoints" $sb
standby=$fe_pid
wait_port $sb
times=()
for ((i = 0; i < RUNS; i++)); do
	start=$(date +%s.%N)
	kill -9 "$owner"
	until_served $sb
	times+=("$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')")
	owner=$standby
	frontend "$endpoints" $fe
	standby=$fe_pid
	wait_port $fe
	t=$fe fe=$sb sb=$t
done
row "takeover after kill -9 (lease $LEASE)" "$(printf '%s\n' "${times[@]}" | sort -n | awk -v m=$(((RUNS + 1) / 2)) '{t[NR] = $1} END {printf "%9.2f s (median; all:", t[m]; for (i = 1; i <= NR; i++) printf " %.2f", t[i]; print ")"}')"
