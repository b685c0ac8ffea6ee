package server

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"fetchadd/sock"
	"fetchadd/uring"
)

// The uring mode: event loops on io_uring (Linux 5.19 and later), one per
// CPU, shaped like the event mode's (loop 0 accepts and hands the
// connections out in turn, handoff.go), but on completions instead of
// readiness.
//
// Readiness (loop.go, the poll and event modes): the loop asks the kernel
// which sockets are ready, "fd 8 has bytes to read" (epoll_wait), and then
// makes each read and send itself, one system call each: per request a
// read, a send, and a share of a wait.
//
// Completion (this mode): the loop gives the kernel the operations
// themselves, "receive on fd 8", "send these bytes on fd 9", as entries
// (SQEs) in a queue shared with it, and the kernel says when each is
// done, and how it went, in a second queue (CQEs). The loop's one system
// call, io_uring_enter, submits every operation the last batch queued
// and waits for the next completions. So a batch of any size costs one
// system call, where a readiness loop makes two per request it serves;
// the more requests a batch holds, the more it saves (with one request
// per io_uring_enter the two cost about the same: BenchmarkLoopRoundTrip).
// In exchange the loop must own what it hands over until its completion:
// the bytes of a send stay put (one send at a time per connection, from
// the start of c.out), a receive's buffer comes from a ring of buffers
// registered with the kernel and goes back once read, and a descriptor is
// closed only once nothing is in flight on it (a cancel first if need
// be). Package uring is the ring.
//
// What is the same as the readiness loops, and shared with them: the
// connections' state (conn, with reading meaning "a receive is in
// flight", writing "a send is"), fetchadd.Session for the replies, the
// bound on what a connection holds (outLimit, then no receive until
// replies go), the idle sweep (idle.go), the hand-off and its wake pipe
// (handoff.go), the group commit of -state (save.go), and Stop.
//
// One receive at a time per connection, single-shot, not multishot
// (IORING_RECV_MULTISHOT, 6.0): a loop that must stop reading a client
// (replies unread, past outLimit) simply does not queue the next one,
// as the readiness loop stops watching for reading; a multishot receive
// would have to be cancelled, and delivers more meanwhile. It costs an
// SQE per read, but no system call (and measured no more server time
// than a multishot receive here).
//
// The wake-up (Stop, and a connection handed over by loop 0) is a read
// queued on the loop's wake pipe, the readiness loops' pipe: a byte
// written to it completes the read. Not IORING_OP_MSG_RING: Stop runs on
// a goroutine that owns no ring (a ring has one submitter, the loop's
// thread, see uring.New), so it needs a descriptor to write to all
// the same; and a connection sent in a message to a loop that has just
// stopped would be lost with its descriptor, where handOver's inbox and
// its stopped flag close it.

// The ring of a loop. A receive's buffer is the blocking modes' read
// (readSize): what a connection past the out budget cannot answer of a
// receive it holds (c.in), and 3,000 clients that never read held 8 KiB
// each with buffers of 8 KiB, the server's peak 76 to 87 MB, where 4
// KiB gives 50 to 53.
const (
	uringEntries = 1024     // SQEs; the CQ has four times as many
	uringBufs    = 256      // receive buffers in the ring (a power of two)
	uringBufSize = readSize // bytes each: one receive's worth at most
)

// The reply buffers: a connection takes one for its first reply and
// gives it back once everything is sent, so that an idle connection
// holds none (as in the readiness loops) and a busy one allocates none.
const (
	replyBufSize = 64      // a new buffer's capacity: append grows it as replies need
	keepReplyBuf = 4 << 10 // larger ones, grown for big replies, go to the GC
	maxFreeBufs  = 256     // buffers the pool keeps
)

// uloop is one uring loop: a loop (loop.go), whose connections, inbox,
// idle sweep and unsaved replies it uses as the readiness loop does, but
// which does its I/O through a ring instead of a Poller.
type uloop struct {
	loop
	ring      *uring.Ring
	uconns    []*uconn // by descriptor: the connections, and what is in flight on them
	free      [][]byte // reply buffers given back, for the next connection to reply
	wakeBuf   [64]byte // the wake pipe's read reads into it
	accepting bool     // loop 0: a multishot accept is in flight
	draining  bool     // stopping: reading what has arrived (stop)
	stopRecvs int      // the receives queued since draining
	cancelled bool     // stopping: every operation in flight is being cancelled
	domain    int      // the listening socket's address family, for Peername
}

// uconn is a connection of a uring loop: a conn (conn.go), and the bytes
// of its send in flight, which the kernel reads until the send's
// completion; here the garbage collector sees them.
type uconn struct {
	conn
	sending   []byte
	more      bool // the last receive brought bytes (or found no buffer): stopping, receive again
	drained   int  // receives queued since the loop began to stop
	cancelled bool // a cancel of its operations is queued
}

// newUring is uring.New; a test replaces it to make a loop's ring
// fail as the kernel does on demand only with descriptors to spare.
var newUring = uring.New

// serveUring runs the uring mode: loop 0 in this goroutine, the others in
// their own. Each loop's ring is made on the thread that runs the loop
// (uring.New), one after another, before any loop runs, as
// serveLoops makes its loops: the first failure is the one error.
func (s *Server) serveUring() error {
	var loops []*uloop
	defer func() {
		s.setLoops(nil) // Stop must not write to a closed wake pipe
		for _, l := range loops {
			sock.Close(l.wakeR)
			sock.Close(l.wakeW)
		}
	}()
	for i := 0; i < s.cfg.Loops; i++ {
		r, w, err := sock.Pipe()
		if err != nil {
			return err
		}
		loops = append(loops, &uloop{loop: loop{srv: s, id: i, conns: make(map[int]*conn), wakeR: r, wakeW: w},
			domain: sock.Domain(s.addr.Addr())})
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ring, err := newUring(uringEntries, uringBufs, uringBufSize)
	if err != nil {
		return err
	}
	defer ring.Close()
	loops[0].ring = ring
	// The other loops' goroutines: each makes its ring and says how it
	// went (made), then waits for start, and runs unless abort.
	errs := make([]error, len(loops))
	made := make(chan error)
	start := make(chan struct{})
	abort := false
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 1; i < len(loops); i++ {
		wg.Add(1)
		go func(l *uloop) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ring, err := newUring(uringEntries, uringBufs, uringBufSize)
			made <- err
			if err != nil {
				return
			}
			defer ring.Close()
			l.ring = ring
			if <-start; abort {
				return
			}
			if errs[l.id] = l.serve(); errs[l.id] != nil {
				s.Stop()
			}
		}(loops[i])
		if err := <-made; err != nil {
			abort = true
			close(start)
			return err
		}
	}
	all := make([]*loop, len(loops))
	for i, l := range loops {
		all[i] = &l.loop
	}
	s.setLoops(all)
	close(start)
	if errs[0] = loops[0].serve(); errs[0] != nil {
		s.Stop() // loop 0 failed: stop the others
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serve runs the loop on its ring, on the thread that made it: the
// ring's one submitter (uring.New).
func (l *uloop) serve() error {
	// The loop's thread keeps its P while it waits, as the event loops'
	// do (rawwait/rawwait.go).
	l.ring.WaitRaw()
	return l.run()
}

// run queues the loop's first operations, then makes one io_uring_enter
// per batch (submit what the last batch queued, wait for at least one
// completion) and handles the batch's completions, until the server
// stops.
func (l *uloop) run() error {
	l.ring.PrepRead(l.wakeR, l.wakeBuf[:])
	if l.id == 0 {
		l.prepAccept()
	}
	for {
		if err := l.ring.Enter(true, l.timeout()); err != nil {
			l.stop()
			return err
		}
		l.now = time.Now()
		l.completeAll()
		l.endBatch(l)
		if l.srv.stopping.Load() {
			l.stop()
			return nil
		}
	}
}

// completeAll handles the completions there are, up to maxBatch, and
// says how many.
func (l *uloop) completeAll() (n int) {
	for ; n < maxBatch; n++ {
		c, ok := l.ring.Reap()
		if !ok {
			return n
		}
		switch c.Op {
		case uring.OpRecv:
			l.received(l.uconns[c.Fd], c)
		case uring.OpSend:
			l.sent(l.uconns[c.Fd], c)
		case uring.OpAccept:
			l.acceptDone(c)
		case uring.OpRead:
			l.woken(c)
		}
		// A cancel's own completion says nothing the completions of
		// what it cancelled do not.
	}
	return n
}

// acceptAgain queues the multishot accept again, after a pause.
func (l *uloop) acceptAgain() { l.prepAccept() }

// maxBatch bounds the completions of a batch, as the readiness loops'
// Wait takes at most 256 ready descriptors (poller.maxEvents). Without
// it a batch need not end: the SQEs its completions queue fill the SQ,
// which is submitted in the middle of the batch (uring.Ring.next), and
// what completes at once (a receive of bytes that were there, a send
// the socket took) comes into the same batch, and so on, while a
// receive that waited for its bytes is posted only by the next
// io_uring_enter that waits (IORING_SETUP_DEFER_TASKRUN): 3,000
// clients that send and never read made batches of 240,000
// completions, 9 s, and another client waited for them.
const maxBatch = 256

// saveStep is loop.saveStep with the ring's sends.
func (l *uloop) saveStep() { l.saveThen(l) }

// woken handles the wake pipe's read: connections handed over wait in
// the inbox, and Stop has set stopping, which run looks at after the
// batch. The read is queued again.
func (l *uloop) woken(c uring.Completion) {
	if c.Res <= 0 {
		if c.Res < 0 && !l.cancelled {
			l.srv.logger.Printf("loop %d: %v", l.id, c.Err())
		}
		return
	}
	for _, a := range l.takeInbox() {
		l.register(a)
	}
	if !l.srv.stopping.Load() {
		l.ring.PrepRead(l.wakeR, l.wakeBuf[:])
	}
}

// stop ends the loop's connections as loop.stop does: the complete lines
// each has received are answered, as far as its socket takes the replies
// now, an unfinished line is dropped, and it is closed. Then every
// operation still in flight is cancelled, and the loop waits for their
// completions, so that the ring is closed with nothing of the loop's in
// the kernel's hands.
func (l *uloop) stop() {
	l.closeInbox()
	// What has arrived so far, within reason (stopReads), as loop.stop
	// reads each connection until recv says EAGAIN or the end of the
	// stream. A round submits the receives the last one queued and takes
	// the completions there are, without waiting. The receives in flight
	// as the loop stops wait for bytes: those whose bytes or end of
	// stream have come complete now, the others are cancelled below.
	// From then on (draining) progress queues a receive after each one
	// that brought bytes, up to stopReads a connection, and one that
	// does not wait (PrepRecvNow): it completes in the round that submits
	// it, with -EAGAIN if the socket is empty. So a client that sends
	// nothing more costs no receive, one that sent a line one more, one
	// that keeps sending at most stopReads, and a line ended by a
	// half-close just then is answered, as in the readiness loops. The
	// rounds go on until one brings nothing: a call finishes only some
	// of the completions the kernel holds (with
	// IORING_SETUP_DEFER_TASKRUN, about 20 a call), so one round may
	// not bring every receive that has completed.
	l.draining = true
	for {
		if err := l.ring.Enter(false, 0); err != nil {
			break
		}
		l.now = time.Now()
		if l.completeAll() == 0 {
			break // nothing came, so nothing was queued for the next round
		}
	}
	l.saveStep()
	for _, c := range l.conns {
		l.kill(c, nil)
	}
	// One cancel for everything in flight, queued after the sends of the
	// last replies: the kernel issues SQEs in order, so each send takes
	// what its socket takes now before the cancel comes; one that found
	// no room waits, and is cancelled.
	l.cancelled = true
	l.ring.PrepCancelAll()
	for l.ring.InFlight() > 0 {
		if err := l.ring.Enter(true, -1); err != nil {
			l.srv.logger.Printf("loop %d: %v", l.id, err)
			break
		}
		l.completeAll()
		l.closeDead()
	}
	// Nothing is in flight now, or the ring failed: its close cancels
	// what is left (and keeps the buffers mapped). Either way the
	// descriptors left are closed, even one whose operation was never
	// queued (uring.Ring.next).
	for _, c := range l.closing {
		c.reading, c.writing = false, false
	}
	l.closeDead()
}
