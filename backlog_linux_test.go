package main

// The lab's listen(1) lesson, Linux's: it reads the kernel's counters in
// /proc (macOS shows the queue with netstat -Lan).

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fetchadd/internal/testnet"
	"fetchadd/internal/testwait"
	"fetchadd/server"

	"golang.org/x/sys/unix"
)

// TestListenBacklog is the lab's listen(1) lesson, on Linux: with
// -backlog 1 and the iterative server busy with one client, the kernel
// completes the handshakes of two more (Linux queues backlog + 1; ss -ltn
// shows them as the listener's Recv-Q, and the backlog as its Send-Q).
// The connects beyond the queue do not complete: the kernel drops their
// SYNs (counted in ListenOverflows). When the busy client leaves, a
// place frees, and one of them gets in on its SYN's retransmission.
func TestListenBacklog(t *testing.T) {
	srv := startConfig(t, server.Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), Mode: server.Iterative, Backlog: 1})
	port := int(srv.Addr().Port())
	busy := dial(t, srv)
	busy.send("1\n")
	busy.expect("  --> 0") // the server is in busy's read now, not in accept

	connect := func() int { // a non-blocking connect: the SYN goes, the call returns
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != unix.EINPROGRESS && err != nil {
			t.Fatal(err)
		}
		return fd
	}
	// connected waits up to wait for fd's handshake to complete.
	connected := func(fd int, wait time.Duration) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, int(wait/time.Millisecond))
		for err == unix.EINTR {
			n, err = unix.Poll(pfd, int(wait/time.Millisecond))
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return false
		}
		if soErr, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); soErr != 0 {
			t.Fatalf("connect: %v", unix.Errno(soErr))
		}
		return true
	}

	// Two complete: the queue holds backlog + 1.
	queued := []int{connect(), connect()}
	for i, fd := range queued {
		if !connected(fd, timeout) {
			t.Fatalf("client %d of the queue did not connect", i+1)
		}
	}
	if q := acceptQueue(t, port); q != 2 {
		t.Fatalf("ss -ltn would show Recv-Q %d; want 2 connections queued", q)
	}
	// The next two: their SYNs are dropped, counted by the kernel. (No
	// event tells that; the counter is read until it has moved.)
	overflows := listenOverflows(t)
	beyond := []int{connect(), connect()}
	for deadline := time.Now().Add(timeout); listenOverflows(t) < overflows+2; {
		if time.Now().After(deadline) {
			t.Fatalf("ListenOverflows went from %d to %d, want +2", overflows, listenOverflows(t))
		}
		time.Sleep(time.Millisecond)
	}
	for i, fd := range beyond {
		if connected(fd, 0) {
			t.Fatalf("client %d beyond the queue connected while the server is busy", i+1)
		}
	}
	// The busy client leaves: the server accepts the first queued one,
	// and one of the others gets in when its SYN is sent again (1 s).
	busy.c.Close()
	pfds := []unix.PollFd{{Fd: int32(beyond[0]), Events: unix.POLLOUT}, {Fd: int32(beyond[1]), Events: unix.POLLOUT}}
	n, err := unix.Poll(pfds, int(timeout/time.Millisecond))
	for err == unix.EINTR {
		n, err = unix.Poll(pfds, int(timeout/time.Millisecond))
	}
	if err != nil || n == 0 {
		t.Fatalf("no client beyond the queue connected after the busy one left: %d, %v", n, err)
	}
}

// acceptQueue reads the length of the accept queue of the listening
// socket on port from /proc/net/tcp (ss -ltn's Recv-Q).
func acceptQueue(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasSuffix(f[1], fmt.Sprintf(":%04X", port)) && f[3] == "0A" { // 0A: LISTEN
			_, rx, _ := strings.Cut(f[4], ":") // tx_queue:rx_queue
			n, _ := strconv.ParseInt(rx, 16, 64)
			return int(n)
		}
	}
	t.Fatalf("no listening socket on port %d in /proc/net/tcp", port)
	return 0
}

// listenOverflows is the kernel's count of connections a full accept
// queue turned away (nstat's TcpExtListenOverflows).
func listenOverflows(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		t.Skipf("no /proc/net/netstat: %v", err)
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for j := range names {
			if names[j] == "ListenOverflows" && j < len(values) {
				n, err := strconv.Atoi(values[j])
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
	}
	t.Skip("no ListenOverflows in /proc/net/netstat")
	return 0
}

// TestBenchInterruptedTwice: bench stuck in a connect the kernel is still
// trying (the server's backlog is full, -timeout an hour), where Ctrl-C
// cannot end the run, exits at once on a second Ctrl-C: 130. Each signal
// is sent once the line before it has come (-trace's first socket: the
// run has begun, Ctrl-C is bench's), since two signals sent at once may
// arrive as one.
func TestBenchInterruptedTwice(t *testing.T) {
	p := start(t, "bench", "-trace", "-timeout", "1h", "-d", "1s", testnet.FullBacklog(t))
	lines := make(chan string)
	go func() {
		defer close(lines)
		for {
			line, err := p.stderr.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	for _, want := range []string{"socket(", "fetchadd bench: interrupted: stopping"} {
		for line, ok := "", true; !strings.HasPrefix(line, want); {
			if line, ok = testwait.Next(t, lines, want); !ok {
				t.Fatalf("stderr ended before a line %q...", want)
			}
		}
		p.cmd.Process.Signal(syscall.SIGINT)
	}
	if status := p.wait(); status != 130 {
		t.Fatalf("status %d after two SIGINTs, want 130", status)
	}
	for _, ok := testwait.Next(t, lines, "the end of stderr"); ok; _, ok = testwait.Next(t, lines, "the end of stderr") {
	}
}
