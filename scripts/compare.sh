#!/usr/bin/env bash
# Measures fetchadd's server modes beside a plain C epoll server (the
# yardstick: lecture/c/epoll_server.c, one thread, what this protocol
# costs with nothing in the way), redis-server (INCRBY, inline and RESP)
# and memcached (incr), with the same load generator (fetchadd bench), on
# loopback, in one run. Linux: server CPU time comes from /proc/PID/stat,
# system calls from perf (or strace).
#
#   scripts/compare.sh            (or: make compare)
#   DURATION=5s RUNS=3 CONNS=50 DEPTHS="1 32" scripts/compare.sh
#   TARGETS="c-epoll fetchadd-event" scripts/compare.sh     (two, quickly)
#
# Targets, in this order (TARGETS picks some; default all): c-epoll
# fetchadd-event fetchadd-uring fetchadd-poll fetchadd-threaded
# fetchadd-event-state fetchadd-uring-state redis-inline redis-resp
# redis-always memcached. The uring targets are left out, with a note,
# where the kernel refuses io_uring.
#
# Each target is measured RUNS times, the targets taking turns, and the
# median run (by ops/s) is printed. Redis and memcached are used when
# installed (Debian: apt-get install redis-server memcached) and skipped,
# with a note, when not; c-epoll needs cc. Where taskset exists, the
# servers run on CPU 1 and the load generator on CPU 0.
#
# Columns: ops/s; ops/C, that over c-epoll's at the same depth; latency
# p50 and p99; srv_us/op, the server's CPU time (user + system) per reply
# in microseconds, and cpu/C, that over c-epoll's; bench_us/op, the load
# generator's; sys/op, the server's system calls per reply; flush/s.
#
# Redis on equal work: redis-inline sends "INCRBY fetchadd:bench 1\r\n"
# (an inline command, split at spaces), redis-resp the same command in
# RESP ("*3\r\n$6\r\nINCRBY\r\n..."), the form redis-cli and the client
# libraries send. Both are a key lookup and an add; fetchadd's request is
# "1\n".
#
# System calls: after the timed runs of a depth, each target gets one
# more run of COUNT_DURATION (2s) at that depth, with perf stat counting
# the server's raw_syscalls:sys_enter and, by call, its
# syscalls:sys_enter_NAME for the calls listed in SYSCALLS below (the rest
# is "other"). perf stat -p counts every thread of the process, and those
# it makes later (the threaded mode's), by inheritance. It counts in the
# kernel, and nothing per call goes to user space, so the server runs at
# its speed and its batches (requests per read) are those of the timed
# runs; the breakdown is of the same run as sys/op. A control FIFO
# starts and stops the counting at the load's start and end. Not perf
# trace -s: it copies a record of every call to user space, which slows
# the server. Not every syscalls:sys_enter_* at once: closing each
# tracepoint takes the kernel tens of ms, ten seconds a run for all of
# them. Where perf is missing or refused, strace -c -f counts instead,
# and the output says so: strace stops the server at every call, a
# slower server finds more connections ready at each wait, so strace's
# figures per reply are not the timed runs' (its epoll_wait per reply:
# 0.02 where perf counts 0.36, c-epoll at depth 1).
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
COUNT_DURATION=${COUNT_DURATION:-2s}
RUNS=${RUNS:-3}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-"1 32"}
IDLE=${IDLE:-10000}
# The servers' ports, BASE_PORT and up: below the kernel's range for
# clients' ports (ip_local_port_range, 32768-60999 by default), where a
# client's socket, or one in TIME_WAIT from the 10,000 idle connections
# of an earlier run, would make a server's bind fail.
BASE_PORT=${BASE_PORT:-31000}
BIN=bin/fetchadd
ALL_TARGETS="c-epoll fetchadd-event fetchadd-uring fetchadd-poll fetchadd-threaded fetchadd-event-state fetchadd-uring-state redis-inline redis-resp redis-always memcached"
TARGETS=${TARGETS:-$ALL_TARGETS}
# The calls counted one by one: what these servers make while serving
# (read/write and their socket forms, the waits, the runtimes' futex,
# sleeps and signals, the disk's), where the kernel has them.
SYSCALLS="read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait epoll_pwait2 epoll_ctl
	poll ppoll select pselect6 accept accept4 close setsockopt futex nanosleep clock_nanosleep sched_yield
	getpid tgkill rt_sigreturn madvise mmap munmap pread64 pwrite64 fdatasync fsync openat clone3 io_uring_enter"

for t in $TARGETS; do
	case " $ALL_TARGETS " in
	*" $t "*) ;;
	*) echo "compare.sh: unknown target $t; the targets: $ALL_TARGETS" >&2; exit 2 ;;
	esac
done
want() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; return 1; }

go build -o "$BIN" .

STATE_DIR=${STATE_DIR:-$(mktemp -d)}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$STATE_DIR/fetchadd-compare" "$tmp"
}
trap cleanup EXIT
mkdir -p "$STATE_DIR/fetchadd-compare"

# on CPU N: taskset where there is one.
server_cpu=() bench_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then server_cpu=(taskset -c 1) bench_cpu=(taskset -c 0); fi

# flushes: the cache flushes the disk under STATE_DIR has completed (the
# 16th field of its /sys/block stat), or 0 where the kernel does not say.
dev=$(basename "$(df --output=source "$STATE_DIR" | tail -1)")
flushes() { awk '{print ($16 == "" ? 0 : $16)}' "/sys/block/${dev%%[0-9]*}/stat" 2>/dev/null || echo 0; }

# wait_port PORT [PID]: wait until something accepts connections there;
# fail at once if process PID has exited.
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
		sleep 0.05
	done
	echo "nothing listens on port $1" >&2
	return 1
}

# cpu_ticks PID: user+system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

declare -A port pid proto
targets=()
add_target() { # NAME PORT PID PROTO
	targets+=("$1"); port[$1]=$2; pid[$1]=$3; proto[$1]=$4
}

if read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && [ $((BASE_PORT + 9)) -ge "$lo" ] && [ "$BASE_PORT" -le "$hi" ]; then
	echo "note: ports from $BASE_PORT are in the kernel's range for clients' ports ($lo-$hi): a server's bind may fail"
fi
p=$BASE_PORT
noted_redis=
for t in $ALL_TARGETS; do
	want "$t" || continue
	case $t in
	c-epoll)
		if ! command -v "${CC:-cc}" >/dev/null; then
			echo "note: no C compiler (${CC:-cc}; apt-get install gcc libc6-dev): no c-epoll, and no ratios to it"
			continue
		fi
		make -s bin/peer-c-epoll-server
		"${server_cpu[@]}" bin/peer-c-epoll-server 127.0.0.1 "$p" 2>/dev/null &
		pr=fetchadd
		;;
	fetchadd-*)
		mode=${t#fetchadd-} args=()
		case $mode in *-state) mode=${mode%-state} args=(-state "$STATE_DIR/fetchadd-compare/counter-$mode") ;; esac
		case $mode in event | uring) args+=(-loops "${LOOPS:-1}") ;; esac
		"${server_cpu[@]}" "$BIN" serve -mode "$mode" "${args[@]}" -addr "127.0.0.1:$p" 2>"$tmp/$t.err" &
		pr=fetchadd
		;;
	redis-*)
		if ! command -v redis-server >/dev/null; then
			[ -z "$noted_redis" ] && echo "note: redis-server is not installed (apt-get install redis-server): no redis figures"
			noted_redis=1
			continue
		fi
		if [ "$t" = redis-always ]; then
			"${server_cpu[@]}" redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
				--dir "$STATE_DIR/fetchadd-compare" --daemonize no >/dev/null &
		else
			"${server_cpu[@]}" redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
		fi
		pr=redis
		[ "$t" = redis-resp ] && pr=redis-resp
		;;
	memcached)
		if ! command -v memcached >/dev/null; then
			echo "note: memcached is not installed (apt-get install memcached): no memcached figures"
			continue
		fi
		"${server_cpu[@]}" memcached -p "$p" -U 0 -l 127.0.0.1 -u "$(id -un)" &
		pr=memcached
		;;
	esac
	pids+=($!)
	add_target "$t" "$p" $! "$pr"
	p=$((p + 1))
done
[ ${#targets[@]} -gt 0 ] || { echo "compare.sh: none of the targets ($TARGETS) can run here" >&2; exit 1; }
# A server that exits at once says why on its last line (fetchadd's uring
# mode where the kernel refuses io_uring): noted, and left out.
started=()
for t in "${targets[@]}"; do
	if wait_port "${port[$t]}" "${pid[$t]}"; then
		started+=("$t")
	elif ! kill -0 "${pid[$t]}" 2>/dev/null && [ -s "$tmp/$t.err" ]; then
		echo "note: no $t: $(tail -1 "$tmp/$t.err")"
	else
		echo "compare.sh: $t did not start on port ${port[$t]}" >&2
		exit 1
	fi
done
targets=("${started[@]}")
[ ${#targets[@]} -gt 0 ] || { echo "compare.sh: none of the targets ($TARGETS) started" >&2; exit 1; }

# How system calls are counted: perf where it works, else strace.
# (COUNT_WITH=strace: strace even where perf works, to try that path.)
counter=none perf_events=()
if [ "${COUNT_WITH:-perf}" = perf ] && command -v perf >/dev/null && perf stat -x, -o /dev/null -e raw_syscalls:sys_enter -- true 2>/dev/null; then
	counter=perf perf_events=(-e raw_syscalls:sys_enter)
	tp=
	for d in /sys/kernel/tracing/events/syscalls /sys/kernel/debug/tracing/events/syscalls; do [ -d "$d" ] && tp=$d && break; done
	for s in $SYSCALLS; do
		if [ -n "$tp" ] && [ -d "$tp/sys_enter_$s" ]; then perf_events+=(-e "syscalls:sys_enter_$s"); fi
	done
elif command -v strace >/dev/null; then
	counter=strace
fi

# count_run TARGET DEPTH: a load of COUNT_DURATION with the server's
# system calls counted. Prints the requests, then "NAME COUNT" lines:
# "total", and each call by name. (Run in $(...): it stops its perf or
# strace itself before it returns.)
count_run() {
	local t=$1 depth=$2 dir line status=0 ctl ack cpid
	dir=$(mktemp -d -p "$tmp")
	local load=("${bench_cpu[@]}" "$BIN" bench -proto "${proto[$t]}" -c "$CONNS" -P "$depth" -d "$COUNT_DURATION" "127.0.0.1:${port[$t]}")
	case $counter in
	perf)
		mkfifo "$dir/ctl" "$dir/ack"
		# -D -1: attached but not counting until "enable" (acknowledged).
		perf stat -x, -o "$dir/out" -D -1 --control "fifo:$dir/ctl,$dir/ack" "${perf_events[@]}" -p "${pid[$t]}" 2>"$dir/err" &
		cpid=$!
		exec {ctl}<>"$dir/ctl" {ack}<>"$dir/ack" # read-write: opening never blocks, even if perf fails
		echo enable >&"$ctl"
		if read -r -t 30 -u "$ack" _; then
			line=$("${load[@]}" | grep '^result') || status=$?
			echo disable >&"$ctl"
			read -r -t 30 -u "$ack" _ || true
		else
			echo "compare.sh: perf stat did not start counting: $(cat "$dir/err")" >&2
			status=1
		fi
		kill -INT "$cpid" 2>/dev/null || true
		wait "$cpid" || true
		exec {ctl}>&- {ack}>&-
		# -x,: COUNT,UNIT,EVENT,...
		[ "$status" = 0 ] && awk -F, '!/^#/ && NF > 3 && $1 ~ /^[0-9]+$/ {
			name = $3; sub(/^syscalls:sys_enter_/, "", name); sub(/^raw_syscalls:sys_enter$/, "total", name)
			if ($1 > 0) print name, $1 }' "$dir/out" >"$dir/counts"
		;;
	strace)
		strace -c -f -q -o "$dir/out" -p "${pid[$t]}" 2>"$dir/err" &
		cpid=$!
		# attached once the server has a tracer
		for _ in $(seq 200); do
			[ "$(awk '/^TracerPid/ {print $2}' "/proc/${pid[$t]}/status")" != 0 ] && break
			sleep 0.01
		done
		line=$("${load[@]}" | grep '^result') || status=$?
		kill -INT "$cpid" 2>/dev/null || true
		wait "$cpid" || true
		# % time, seconds, usecs/call, calls, [errors,] syscall
		[ "$status" = 0 ] && awk '$1 ~ /^[0-9.]+$/ && NF >= 5 { print $NF, $4 }' "$dir/out" >"$dir/counts"
		;;
	none) status=1 ;;
	esac
	[ "$status" = 0 ] || { echo "0"; return; }
	sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line"
	cat "$dir/counts"
}

model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname): $(nproc) CPUs (${model:-$(uname -m)}), $(uname -srm)"
echo "# fetchadd bench -c $CONNS -d $DURATION, median of $RUNS runs (by ops/s); fetchadd's event modes with -loops ${LOOPS:-1}"
if [ ${#server_cpu[@]} -gt 0 ]; then
	echo "# pinned: the servers on CPU 1 (${server_cpu[*]}), the load generator on CPU 0 (${bench_cpu[*]})"
else
	echo "# not pinned (no taskset, or one CPU): servers and load generator share the CPUs"
fi
case $counter in
perf) echo "# sys/op: perf stat -e raw_syscalls:sys_enter -p PID, a run of $COUNT_DURATION per target and depth after the timed runs" ;;
strace) echo "# sys/op: strace -c -f -p PID, not perf (perf is missing or refused here, or COUNT_WITH=strace), a run of $COUNT_DURATION per target and depth: strace slows the server, and a slower server finds more requests at each wait, so these figures are not the timed runs' (epoll_wait per reply far lower)" ;;
none) echo "# sys/op: neither perf nor strace here: no system call counts" ;;
esac
printf '%-22s %5s %10s %6s %9s %9s %10s %6s %11s %8s %8s\n' target depth ops/s ops/C p50_ms p99_ms srv_us/op cpu/C bench_us/op sys/op flush/s
declare -A breakdown=()
for depth in $DEPTHS; do
	declare -A results=() med=() sysop=()
	for run in $(seq "$RUNS"); do
		for t in "${targets[@]}"; do
			before=$(cpu_ticks "${pid[$t]}") f0=$(flushes) t0=$(date +%s.%N)
			line=$("${bench_cpu[@]}" "$BIN" bench -proto "${proto[$t]}" -c "$CONNS" -P "$depth" -d "$DURATION" "127.0.0.1:${port[$t]}" | grep '^result')
			after=$(cpu_ticks "${pid[$t]}") f1=$(flushes) t1=$(date +%s.%N)
			reqs=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")
			server=$(awk -v d=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN {printf "%.3f", n ? d / hz / n * 1e6 : 0}')
			fps=$(awk -v f=$((f1 - f0)) -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", f / (b - a)}')
			results[$t]+="$line server_us_per_op=$server flush_per_s=$fps"$'\n'
		done
	done
	# The system calls, in runs of their own.
	for t in "${targets[@]}"; do
		counts=$(count_run "$t" "$depth")
		sysop[$t]=$(awk 'NR == 1 {n = $1} $1 == "total" {printf "%.3f", n ? $2 / n : 0}' <<<"$counts")
		# by call, most first; what the list leaves out is "other"
		breakdown["$t $depth"]=$(awk 'NR == 1 {n = $1; next} $1 == "total" {total = $2; next} {c[$1] = $2; sum += $2}
			END {
				if (!n || !total) exit
				for (k in c) printf "%d %s\n", c[k], k
				if (total > sum) printf "%d other\n", total - sum
			}' <<<"$counts" | sort -rn | awk -v n="$(head -1 <<<"$counts")" '$1 / n >= 0.0005 {printf "%s%s %.3f", sep, $2, $1 / n; sep = ", "}')
	done
	for t in "${targets[@]}"; do
		# the median run by ops/s
		med[$t]=$(printf '%s' "${results[$t]}" | sed -E 's/.*ops_per_sec=([0-9]+).*/\1 &/' | sort -n | awk -v r="$RUNS" 'NR == int((r + 1) / 2)')
	done
	get() { sed -E "s/.* $2=([^ ]+).*/\1/" <<<"${med[$1]}"; }
	# ratio T KEY: T's KEY over c-epoll's, or - without c-epoll
	ratio() {
		if [ -z "${med[c-epoll]:-}" ]; then echo -; return; fi
		awk -v a="$(get "$1" "$2")" -v b="$(get c-epoll "$2")" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'
	}
	for t in "${targets[@]}"; do
		printf '%-22s %5s %10s %6s %9.3f %9.3f %10s %6s %11s %8s %8s\n' "$t" "$depth" "$(get "$t" ops_per_sec)" "$(ratio "$t" ops_per_sec)" \
			"$(awk -v u="$(get "$t" p50_us)" 'BEGIN {print u / 1000}')" "$(awk -v u="$(get "$t" p99_us)" 'BEGIN {print u / 1000}')" \
			"$(get "$t" server_us_per_op)" "$(ratio "$t" server_us_per_op)" "$(get "$t" bench_cpu_s_per_M)" "${sysop[$t]:--}" "$(get "$t" flush_per_s)"
		if [ "$(get "$t" distinct)" != true ] || [ "$(get "$t" errors)" != 0 ]; then echo "  ^ $t: errors or repeated values: ${med[$t]}"; fi
	done
	unset results med sysop
done

if [ "$counter" != none ]; then
	echo "# system calls per reply, by call ($counter, the counting runs)"
	for depth in $DEPTHS; do
		for t in "${targets[@]}"; do
			echo "  $t depth $depth: ${breakdown["$t $depth"]:-no count}"
		done
	done
fi

# The event and uring modes with IDLE idle connections: their memory
# (resident, in MB: /proc/PID/status VmRSS, and VmHWM, the peak), and an
# active client's latency meanwhile.
mb() { awk -v k="$1" '$1 == k":" {printf "%.1f", $2 / 1024}' "/proc/$2/status"; }
for t in fetchadd-event fetchadd-uring; do
	[ -n "${pid[$t]:-}" ] || continue
	rss0=$(mb VmRSS "${pid[$t]}")
	line=$("$BIN" bench -c 1 -P 1 -d 2s -idle "$IDLE" "127.0.0.1:${port[$t]}" | grep '^result')
	echo "# $t with $IDLE idle connections: RSS $rss0 MB before, $(mb VmRSS "${pid[$t]}") MB after (peak $(mb VmHWM "${pid[$t]}") MB);" \
		"meanwhile one active client: $(sed -E 's/.*ops_per_sec=([0-9]+).* p50_us=([0-9]+) p99_us=([0-9]+).*/\1 ops\/s, p50 \2 us, p99 \3 us/' <<<"$line")"
done
