package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The kernel's table of TCP sockets (/proc/net/tcp and tcp6), which the
// scenarios wait on: they make no connection of their own, which would
// show in the transcripts.

// inUse says whether a TCP socket has port at either end.
func inUse(port int) bool {
	hex := fmt.Sprintf(":%04X", port)
	found := false
	tcpSockets(func(local, remote, _, _ string) {
		if strings.HasSuffix(local, hex) || strings.HasSuffix(remote, hex) {
			found = true
		}
	})
	return found
}

// tcpSockets calls f with the fields of each TCP socket of /proc/net/tcp
// and tcp6 (local, remote, state, "tx:rx" queues).
func tcpSockets(f func(local, remote, state, queues string)) {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(file)
		for _, l := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(l)
			if len(fields) > 4 {
				f(fields[1], fields[2], fields[3], fields[4])
			}
		}
	}
}

// queue reads the rx part of "tx:rx".
func queue(queues string) int {
	_, rx, _ := strings.Cut(queues, ":")
	n, _ := strconv.ParseInt(rx, 16, 64)
	return int(n)
}

// poll waits until cond holds.
func (e *env) poll(what string, cond func() bool) error {
	for !cond() {
		if e.left() <= 0 {
			return fmt.Errorf("waited for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// waitQueued waits until a connection to port (not listening: one not
// accepted yet, ESTABLISHED or, once its client has sent FIN, CLOSE-WAIT)
// holds n bytes received.
func (e *env) waitQueued(port, n int) error {
	hex := fmt.Sprintf(":%04X", port)
	return e.poll(fmt.Sprintf("%d bytes waiting on a connection to port %d", n, port), func() bool {
		found := false
		tcpSockets(func(local, remote, state, queues string) {
			if strings.HasSuffix(local, hex) && state != "0A" && queue(queues) == n {
				found = true
			}
		})
		return found
	})
}

// waitAcceptQueue waits until n connections wait in port's accept queue
// (the listening socket's rx queue: ss -ltn's Recv-Q).
func (e *env) waitAcceptQueue(port, n int) error {
	hex := fmt.Sprintf(":%04X", port)
	return e.poll(fmt.Sprintf("%d connections queued on port %d", n, port), func() bool {
		found := false
		tcpSockets(func(local, remote, state, queues string) {
			if strings.HasSuffix(local, hex) && state == "0A" && queue(queues) == n {
				found = true
			}
		})
		return found
	})
}

// waitSynSent waits until a connection to port is (or, want false, no
// longer is) in SYN-SENT (02).
func (e *env) waitSynSent(port int, want bool) error {
	hex := fmt.Sprintf(":%04X", port)
	return e.poll(fmt.Sprintf("a SYN-SENT connection to port %d: %v", port, want), func() bool {
		found := false
		tcpSockets(func(local, remote, state, queues string) {
			if strings.HasSuffix(remote, hex) && state == "02" {
				found = true
			}
		})
		return found == want
	})
}
