#!/usr/bin/env bash
# Prints the transcripts that NOTES.md shows, made by the code as it is:
#   1. the lab's lesson with -trace: a second client waits in the backlog
#   2. the event mode with -trace: epoll, the wake pipe, non-blocking accept
#   3. the poll mode with -trace: ppoll
#   4. the client with -trace
# Usage: scripts/transcripts.sh   (Linux or macOS; needs python3 for the
# scripted clients)
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/fetchadd .
PORT=${PORT:-50007}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# wait_for FILE PATTERN: until the server has logged PATTERN.
wait_for() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.05; done; echo "timed out waiting for $2" >&2; exit 1; }

# client ACTIONS...: a scripted client; "c NAME" connects, "s NAME TEXT"
# sends TEXT and a newline, "r NAME" reads one reply, "x NAME" closes.
clients() {
	python3 - "$PORT" "$@" <<'PY'
import socket, sys
port, socks = int(sys.argv[1]), {}
for step in sys.argv[2:]:
    op, name, *text = step.split(" ", 2)
    if op == "c": socks[name] = socket.create_connection(("127.0.0.1", port))
    if op == "s": socks[name].sendall(text[0].encode() + b"\n")
    if op == "r": print(f"client {name} got {socks[name].recv(100)!r}", file=sys.stderr)
    if op == "x": socks.pop(name).close()
PY
}

run_server() { # LOG ARGS...: start the server in the background, tracing
	local log=$1; shift
	bin/fetchadd serve -trace -addr "127.0.0.1:$PORT" "$@" 2>"$log" &
	server=$!
	wait_for "$log" "listening on"
}

stop_server() { kill -INT "$server"; wait "$server" || true; }

echo "== 1. The lab's lesson: iterative server, two clients"
run_server "$tmp/1.log"
clients "c A" "s A 5" "r A" "c B" "s B 1" "s A 3" "r A" "x A" "r B" "x B"
stop_server
grep -v ' try it:\| to let a partner' "$tmp/1.log"

echo
echo "== 2. The event mode, one loop, one client"
run_server "$tmp/2.log" -mode event -loops 1
clients "c A" "s A 5" "r A" "x A"
stop_server
grep -v ' try it:\| to let a partner' "$tmp/2.log"

echo
echo "== 3. The poll mode, one client"
run_server "$tmp/3.log" -mode poll
clients "c A" "s A 5" "r A" "x A"
stop_server
grep -v ' try it:\| to let a partner' "$tmp/3.log"

echo
echo "== 4. The client"
run_server "$tmp/4.log"
printf '5\n3\n' | bin/fetchadd client -trace "127.0.0.1:$PORT" 2>&1 >/dev/null
stop_server
