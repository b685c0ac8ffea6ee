package server

// The uring loop from the inside: what a client cannot see (the replies
// a loop holds) or make the kernel do on demand (ECONNABORTED).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchadd/sock"
	"fetchadd/uring"

	"golang.org/x/sys/unix"
)

// uringLoop makes a uring server on a loopback port and its loop 0,
// with its ring, which the test runs by hand on its own thread (the
// ring's); all is closed when the test ends.
func uringLoop(t testing.TB, cfg Config) (*Server, *uloop) {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	cfg.Mode = Uring
	cfg.Addr = netipLoopback
	srv, err := Listen(cfg)
	if err != nil {
		skipRefused(t, err)
		t.Fatal(err)
	}
	t.Cleanup(srv.closeListener)
	r, w, err := sock.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	l := &uloop{loop: loop{srv: srv, conns: make(map[int]*conn), wakeR: r, wakeW: w}, domain: unix.AF_INET}
	srv.loops = []*loop{&l.loop}
	if l.ring, err = uring.New(uringEntries, uringBufs, uringBufSize); err != nil {
		t.Fatal(err)
	}
	l.ring.WaitRaw() // as serve does
	t.Cleanup(func() {
		l.stop()
		l.ring.Close()
		sock.Close(r)
		sock.Close(w)
	})
	return srv, l
}

// TestUringHoldsBoundedReplies: a client that sends lines and never
// reads the replies makes a uring loop hold at most outLimit of replies
// (and one reply more) and one receive of requests; then the loop queues
// no receive for it, as the readiness loop stops watching it.
func TestUringHoldsBoundedReplies(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	client, fd := uringClient(t, srv, l)
	c := l.conns[fd]
	// 4 MB of requests: far more than the socket buffers, the replies
	// and a receive take together.
	go func() {
		client.SetWriteDeadline(time.Now().Add(timeout))
		client.Write([]byte(strings.Repeat("1\n", 2<<20)))
	}()
	// Run the loop's batches until it has no receive in flight for the
	// connection, and queues none.
	for deadline := time.Now().Add(timeout); c.reading; {
		if time.Now().After(deadline) {
			t.Fatalf("the loop still receives, holding %d bytes of replies and %d of requests", len(c.out), len(c.in))
		}
		if err := l.ring.Enter(true, 100); err != nil {
			t.Fatal(err)
		}
		l.now = time.Now()
		l.completeAll()
		l.endBatch(l)
	}
	if len(c.out) > outLimit+len("  --> 4194304\r\n") || len(c.in) > uringBufSize {
		t.Fatalf("the loop holds %d bytes of replies (limit %d) and %d of requests (one receive: %d)", len(c.out), outLimit, len(c.in), uringBufSize)
	}
	if !c.writing {
		t.Fatalf("no send in flight, with %d bytes of replies to send", len(c.out))
	}
}

// TestUringAcceptAborted: an accept that fails with ECONNABORTED (a
// client that reset its connection before accept took it) is skipped,
// silently, and the next connection is served: the uring mode's
// TestAcceptAborted.
func TestUringAcceptAborted(t *testing.T) {
	real := uringAccepted
	defer func() { uringAccepted = real }()
	var mu sync.Mutex
	aborts := 0
	uringAccepted = func(c uring.Completion) uring.Completion {
		mu.Lock()
		defer mu.Unlock()
		if c.Res >= 0 && aborts < 2 { // the first two connections "left"
			aborts++
			sock.Close(int(c.Res))
			c.Res = -int32(unix.ECONNABORTED)
		}
		return c
	}
	thirdServed(t, Config{Mode: Uring, Loops: 1})
	mu.Lock()
	defer mu.Unlock()
	if aborts != 2 {
		t.Fatalf("%d aborted accepts, want 2", aborts)
	}
}

// TestUringNoAllocs: once warm, a request on the int64 path (receive,
// answer, send, their completions, the end of the batch) allocates
// nothing in a uring loop.
func TestUringNoAllocs(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	// The client makes raw calls: package net would count its own
	// allocations.
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)
	if err := unix.Connect(cfd, sock.Sockaddr(srv.Addr().Addr(), int(srv.Addr().Port()))); err != nil {
		t.Fatal(err)
	}
	fd, peer, err := sock.Accept(srv.lfd, true)
	if err != nil {
		t.Fatal(err)
	}
	l.register(accepted{fd, peer})
	req, reply := []byte("1\n"), make([]byte, 64)
	roundTrip := func() {
		unix.Write(cfd, req)
		for c := l.conns[fd]; ; {
			if err := l.ring.Enter(true, 1000); err != nil {
				t.Fatal(err)
			}
			l.now = time.Now()
			l.completeAll()
			l.endBatch(l)
			if !c.writing && len(c.out) == 0 && c.reading {
				break // replied, the reply's send complete, and receiving again
			}
		}
		if n, err := unix.Read(cfd, reply); n == 0 || err != nil {
			t.Fatalf("reply: %d, %v", n, err)
		}
	}
	for i := 0; i < 10; i++ { // warm: the reply buffer pool, the maps
		roundTrip()
	}
	if allocs := testing.AllocsPerRun(200, roundTrip); allocs != 0 {
		t.Fatalf("%v allocations per request", allocs)
	}
}

// TestUringStopAnswers: a uring loop that stops answers the complete
// lines it has received, more than one receive's worth, sends the replies
// the socket takes, drops an unfinished line, and closes.
func TestUringStopAnswers(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	client, _ := uringClient(t, srv, l)
	// Two receives' worth of lines, and the start of one more: in the
	// server's socket once Write returns (loopback).
	const lines = uringBufSize/2 + 1000
	client.SetDeadline(time.Now().Add(timeout))
	if _, err := client.Write([]byte(strings.Repeat("1\n", lines) + "12")); err != nil {
		t.Fatal(err)
	}
	l.stop()
	r := bufio.NewReader(client)
	for i := 0; i < lines; i++ {
		if line, err := r.ReadString('\n'); line != fmt.Sprintf("  --> %d\r\n", i) {
			t.Fatalf("reply %d of %d: %q, %v", i, lines, line, err)
		}
	}
	if rest, err := io.ReadAll(r); len(rest) > 0 || err != nil {
		t.Fatalf("after the replies: %q, %v; want the end of the stream", rest, err)
	}
	if len(l.conns) != 0 || l.ring.InFlight() != 0 {
		t.Fatalf("after stop: %d connections, %d operations in flight", len(l.conns), l.ring.InFlight())
	}
}

// TestUringAcceptPause: when the multishot accept ends with EMFILE, loop 0
// queues no accept until acceptPauseTime has passed, then one.
func TestUringAcceptPause(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	l.prepAccept()
	before := l.ring.InFlight()
	// The accept's last completion, as the kernel gives it when the
	// process is out of descriptors: -EMFILE, without IORING_CQE_F_MORE.
	l.now = time.Now()
	l.acceptDone(uring.Completion{Op: uring.OpAccept, Fd: srv.lfd, Res: -int32(unix.EMFILE)})
	l.endBatch(l)
	if l.accepting || l.acceptPause.IsZero() || l.ring.InFlight() != before {
		t.Fatalf("after EMFILE: accepting %v, pause until %v, %d operations queued (%d before)", l.accepting, l.acceptPause, l.ring.InFlight(), before)
	}
	if timeout := l.timeout(); timeout <= 0 || timeout > int(acceptPauseTime/time.Millisecond)+1 {
		t.Fatalf("the loop would wait %d ms; want the pause, %v", timeout, acceptPauseTime)
	}
	l.now = l.acceptPause.Add(-time.Millisecond)
	l.endBatch(l)
	if l.accepting {
		t.Fatal("accepting again before the pause is over")
	}
	l.now = l.acceptPause
	l.endBatch(l)
	if !l.accepting || l.ring.InFlight() != before+1 {
		t.Fatalf("after the pause: accepting %v, %d operations queued", l.accepting, l.ring.InFlight())
	}
}

// TestUringHandOverToStoppedLoop: a connection handed to a uring loop that
// has stopped is closed and uncounted, not left in its inbox.
func TestUringHandOverToStoppedLoop(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	l.stop()
	handOverToStopped(t, srv, &l.loop)
}

// TestUringStopClosesInbox: as TestStopClosesInbox, for a uring loop.
func TestUringStopClosesInbox(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	handOverThenStop(t, srv, &l.loop, l.stop)
}

// uringClient connects a client to the uring loop's server and gives
// the connection to the loop (its first receive queued, not submitted).
func uringClient(t *testing.T, srv *Server, l *uloop) (*net.TCPConn, int) {
	t.Helper()
	client, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	client.SetDeadline(time.Now().Add(timeout))
	fd, peer, err := sock.Accept(srv.lfd, true)
	if err != nil {
		t.Fatal(err)
	}
	l.register(accepted{fd, peer})
	return client.(*net.TCPConn), fd
}

// arrived waits until what a client sent is in the server's socket fd:
// n bytes, and the end of the stream if eof. A wait on the kernel, not
// a sleep: loopback delivers at once, but may do it on another CPU.
func arrived(t *testing.T, fd, n int, eof bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; runtime.Gosched() {
		inq, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		unix.Poll(pfd, 0)
		if inq == n && (!eof || pfd[0].Revents&unix.POLLRDHUP != 0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fd %d: %d bytes there, want %d (and the end of the stream: %v)", fd, inq, n, eof)
		}
	}
}

// TestUringStopReceives: a uring loop that stops reads each connection
// until it has read all that had arrived, as the readiness loop reads
// until EAGAIN, and no further: each receive that brought bytes is
// followed by one that does not wait, and the one that finds the socket
// empty is the last. A client that sent two and a half receives' worth
// gets three receives more (the last finds nothing) and every reply; one
// that sent a line gets one, which finds nothing; one that sent nothing
// gets none (at most 16 × 8 KiB × every connection, before, with clients
// that keep their sockets full). Nothing is left in flight, and stop
// does not wait for the client that sends nothing.
func TestUringStopReceives(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	const lines = 5 * uringBufSize / 2 / 20 // lines of 20 bytes
	sends := []string{strings.Repeat("0000000000000000001\n", lines), "1\n", ""}
	want := []int{lines, 1, 0} // replies
	var clients []*net.TCPConn
	for _, s := range sends {
		client, fd := uringClient(t, srv, l)
		clients = append(clients, client)
		if _, err := client.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		arrived(t, fd, len(s), false)
	}
	l.stop()
	if l.stopRecvs != 4 {
		t.Fatalf("%d receives queued as the loop stopped; want 4: 3 for the client that sent more than a buffer's worth, 1 for the one that sent a line", l.stopRecvs)
	}
	for i, client := range clients {
		got, err := io.ReadAll(client)
		if n := strings.Count(string(got), "\r\n"); n != want[i] || err != nil {
			t.Errorf("client %d: %d replies, %v; want %d", i, n, err, want[i])
		}
	}
	if len(l.conns) != 0 || l.ring.InFlight() != 0 {
		t.Fatalf("after stop: %d connections, %d operations in flight", len(l.conns), l.ring.InFlight())
	}
}

// TestUringStopHalfClose: a line a client ends by half-closing just as
// the loop stops (its bytes and the end of the stream arrive together)
// is answered, as in the readiness loops: the receive that takes the
// bytes says the socket has more (the end of the stream), so the loop
// receives once more.
func TestUringStopHalfClose(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	client, fd := uringClient(t, srv, l)
	client.Write([]byte("5"))
	client.CloseWrite()
	arrived(t, fd, 1, true)
	l.stop()
	if got, err := io.ReadAll(client); string(got) != "  --> 0\r\n" || err != nil {
		t.Fatalf("after a line and a half-close, at stop: %q, %v; want its reply", got, err)
	}
}

// TestUringStopEndAfterBytes: a line whose bytes a receive takes as the
// loop stops, and whose end of the stream comes just after (too late
// for the kernel to flag it on that receive), is answered: the loop
// receives again after a receive that brought bytes, as the readiness
// loop reads until EAGAIN or the end of the stream.
func TestUringStopEndAfterBytes(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	client, fd := uringClient(t, srv, l)
	if err := l.ring.Enter(false, 0); err != nil { // the receive waits for bytes
		t.Fatal(err)
	}
	client.Write([]byte("5"))
	arrived(t, fd, 1, false)
	l.draining = true // as stop begins: the receive takes the 5, alone
	l.takeBytes(t, fd)
	client.CloseWrite()
	arrived(t, fd, 0, true)
	l.stop()
	if got, err := io.ReadAll(client); string(got) != "  --> 0\r\n" || err != nil {
		t.Fatalf("a line whose end of the stream came after its bytes, at stop: %q, %v; want its reply", got, err)
	}
}

// takeBytes runs the loop until a receive has brought connection fd's
// bytes (the completion that does so sets active to the loop's clock).
func (l *uloop) takeBytes(t *testing.T, fd int) {
	t.Helper()
	c := l.conns[fd]
	for c.active = (time.Time{}); c.active.IsZero(); {
		if err := l.ring.Enter(true, int(timeout/time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		l.now = time.Now()
		if l.completeAll() == 0 {
			t.Fatalf("fd %d: no receive came in %v", fd, timeout)
		}
	}
}

// TestUringStopHalfCloses: many clients whose last lines the loop has
// received end them by half-closing just before the loop stops: each is
// answered, as in the readiness loops, though one io_uring_enter
// finishes only some of the receives the ends of the streams completed
// (about 20 with IORING_SETUP_DEFER_TASKRUN): stop's rounds go on until
// one brings nothing.
func TestUringStopHalfCloses(t *testing.T) {
	const n = 100
	srv, l := uringLoop(t, Config{})
	clients := make([]*net.TCPConn, n)
	for i := range clients {
		client, fd := uringClient(t, srv, l)
		clients[i] = client
		client.Write([]byte("5"))
		l.takeBytes(t, fd) // an unfinished line; the next receive waits for more
	}
	for _, client := range clients {
		client.CloseWrite()
	}
	for fd := range l.conns {
		arrived(t, fd, 0, true)
	}
	l.stop()
	unanswered := 0
	for _, client := range clients {
		if got, err := io.ReadAll(client); !strings.HasPrefix(string(got), "  --> ") || err != nil {
			unanswered++
		}
	}
	if unanswered > 0 {
		t.Fatalf("%d of %d clients whose lines ended by a half-close before the stop got no reply", unanswered, n)
	}
}

// TestUringAcceptedAtStop: a connection the multishot accept gives a
// loop that stops is closed, not served: a loop that has cancelled its
// operations would wait for its receive for good.
func TestUringAcceptedAtStop(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	client, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	fd, _, err := sock.Accept(srv.lfd, true) // as the kernel's accept gives it
	if err != nil {
		t.Fatal(err)
	}
	l.cancelled = true // as stop sets it, once it has cancelled everything
	l.acceptDone(uring.Completion{Op: uring.OpAccept, Fd: srv.lfd, Res: int32(fd), Flags: 1 << 1})
	if len(l.conns) != 0 || srv.active.Load() != 0 || l.ring.InFlight() != 0 {
		t.Fatalf("after an accept at stop: %d connections, %d active, %d operations in flight; want none", len(l.conns), srv.active.Load(), l.ring.InFlight())
	}
	client.SetDeadline(time.Now().Add(timeout))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("the connection accepted at stop is still open: read %d, %v", n, err)
	}
}

// TestUringStartFails: when the loops' rings cannot all be made (here
// every one after loop 0's fails, as when the process is out of
// descriptors), Serve returns the first failure, alone, before any loop
// has run, as the event mode does: one line, not one per loop.
func TestUringStartFails(t *testing.T) {
	real := newUring
	defer func() { newUring = real }()
	var mu sync.Mutex
	calls := 0
	newUring = func(entries, nbufs, bufSize int) (*uring.Ring, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n > 1 {
			return nil, fmt.Errorf("io_uring_setup: %w", unix.EMFILE)
		}
		return real(entries, nbufs, bufSize)
	}
	srv, err := Listen(Config{Mode: Uring, Loops: 4, Addr: netipLoopback})
	if err != nil {
		skipRefused(t, err)
		t.Fatal(err)
	}
	err = srv.Serve()
	mu.Lock()
	defer mu.Unlock()
	if want := "io_uring_setup: too many open files"; err == nil || err.Error() != want || calls != 2 {
		t.Fatalf("Serve: %v, after %d rings asked for; want %q after 2", err, calls, want)
	}
}

// TestUringSendIsProgress: as TestSendIsProgress, for a uring loop: each
// send's completion moves the connection's idle time on.
func TestUringSendIsProgress(t *testing.T) {
	const idle = time.Minute
	srv, l := uringLoop(t, Config{Idle: idle})
	client, fd := uringClient(t, srv, l)
	u := l.uconns[fd]
	c := &u.conn
	r := bufio.NewReader(client)
	start := c.active
	for i := 1; i <= 4; i++ {
		l.now = start.Add(time.Duration(i) * idle / 2)
		reply := fmt.Sprintf("  --> %d\r\n", i)
		c.out = append(c.out, reply...) // a reply of the backlog, which the socket takes now
		l.flush(u)
		for deadline := time.Now().Add(timeout); c.writing; {
			if time.Now().After(deadline) {
				t.Fatalf("reply %d: the send did not complete", i)
			}
			if err := l.ring.Enter(true, 100); err != nil {
				t.Fatal(err)
			}
			l.completeAll()
		}
		l.closeIdle()
		if c.dead {
			t.Fatalf("closed as idle %v after the connection began, %v after a send", l.now.Sub(start), idle/2)
		}
		if line, err := r.ReadString('\n'); line != reply {
			t.Fatalf("reply %d: %q, %v", i, line, err)
		}
	}
}

// TestUringBatchBounded: a batch handles at most maxBatch completions,
// however many the CQ holds, and the next batches take the rest: a
// batch ends, so that a completion the kernel posts only at the next
// io_uring_enter that waits (a receive that waited for its bytes) is not
// held up by a flood of others. Every client is answered.
func TestUringBatchBounded(t *testing.T) {
	srv, l := uringLoop(t, Config{})
	const conns = maxBatch + 44
	var clients []*net.TCPConn
	for i := 0; i < conns; i++ {
		client, fd := uringClient(t, srv, l) // its receive is queued
		client.Write([]byte("1\n"))
		arrived(t, fd, 2, false)
		clients = append(clients, client)
	}
	// Each receive completes: its bytes are there (or no buffer is left,
	// ENOBUFS, a completion too). An io_uring_enter posts some of the
	// completions the kernel holds (about 20 with DEFER_TASKRUN), so
	// conns calls post them all, and the test reaps none meanwhile.
	for i := 0; i < conns; i++ {
		if err := l.ring.Enter(false, 0); err != nil {
			t.Fatal(err)
		}
	}
	l.now = time.Now()
	if n := l.completeAll(); n != maxBatch {
		t.Fatalf("a batch handled %d completions of %d or more, want %d", n, conns, maxBatch)
	}
	l.endBatch(l)
	sent := func() bool { // every line answered, and every reply sent
		for _, c := range l.conns {
			if c.writing || len(c.out) > 0 {
				return false
			}
		}
		return srv.counter.Value().Int64() == conns
	}
	for deadline := time.Now().Add(timeout); !sent(); {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines answered, not every reply sent", srv.counter.Value().Int64(), conns)
		}
		if err := l.ring.Enter(true, 100); err != nil {
			t.Fatal(err)
		}
		l.now = time.Now()
		l.completeAll()
		l.endBatch(l)
	}
	seen := make(map[string]bool)
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(timeout))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || seen[line] {
			t.Fatalf("a client got %q, %v (seen before: %v)", line, err, seen[line])
		}
		seen[line] = true
	}
}
