package server

import (
	"errors"
	"sync"
	"time"

	"fetchadd/poller"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// The poll and event modes share this event loop; only the Poller differs
// (poll(2), or epoll or kqueue). One thread runs a loop, and a loop serves
// many connections: it waits for the ones that are ready, and for each
// does the one read or write that will not block. Nothing blocks but the
// wait, so one slow client cannot hold up the others.

// loop is one event loop.
type loop struct {
	srv    *Server
	id     int
	poller poller.Poller
	conns  map[int]*conn // by descriptor
	wakeR  int           // read end of the wake pipe, watched by the poller
	wakeW  int           // write end: wake() writes a byte there

	mu      sync.Mutex
	inbox   []accepted // connections loop 0 has handed to this loop
	stopped bool       // the loop has ended: hand it nothing more

	buf     []byte  // what read returns, for every connection of the loop
	scratch []byte  // replies being built, before they are sent
	closing []*conn // connections to close once this batch of events is done
	pending []*conn // connections with replies of this batch to save (state file)
	waiting []*conn // connections with replies waiting for a commit

	next        int       // loop 0: the loop that gets the next connection
	acceptPause time.Time // loop 0: out of descriptors; accept again then
	now         time.Time // when the last Wait returned
	nextSweep   time.Time // when to look for idle connections next
}

// serveLoops runs the poll or event mode: loop 0 in this goroutine, the
// others in their own.
func (s *Server) serveLoops() error {
	if err := sock.SetNonblock(s.lfd); err != nil {
		return err
	}
	var loops []*loop
	defer func() {
		s.setLoops(nil) // Stop must not write to a closed wake pipe
		for _, l := range loops {
			l.close()
		}
	}()
	for i := 0; i < s.cfg.Loops; i++ {
		l, err := s.newLoop(i)
		if err != nil {
			return err
		}
		loops = append(loops, l)
	}
	if err := loops[0].poller.Add(s.lfd, true, false); err != nil {
		return err
	}
	s.setLoops(loops)
	errs := make([]error, len(loops))
	var wg sync.WaitGroup
	for i := 1; i < len(loops); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if errs[i] = loops[i].run(); errs[i] != nil {
				s.Stop()
			}
		}(i)
	}
	errs[0] = loops[0].run()
	if errs[0] != nil {
		s.Stop() // loop 0 failed: stop the others
	}
	wg.Wait()
	return errors.Join(errs...)
}

// setLoops gives Stop the loops to wake (nil: none, before their wake
// pipes close), and wakes them if Stop came before it could.
func (s *Server) setLoops(loops []*loop) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loops = loops
	if s.stopping.Load() {
		for _, l := range loops {
			l.wake()
		}
	}
}

func (s *Server) newLoop(id int) (*loop, error) {
	var p poller.Poller
	if s.cfg.Mode == Poll {
		p = poller.NewPoll()
	} else {
		var err error
		if p, err = poller.NewEvent(); err != nil {
			return nil, err
		}
	}
	r, w, err := sock.Pipe()
	if err != nil {
		p.Close()
		return nil, err
	}
	// The loop's thread keeps its P while it waits, like a C event
	// loop's thread, where a P can be spared (rawwait/rawwait.go).
	p.WaitRaw()
	l := &loop{srv: s, id: id, poller: p, conns: make(map[int]*conn), wakeR: r, wakeW: w,
		buf: make([]byte, loopReadSize)}
	if err := p.Add(r, true, false); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// close releases the loop's own descriptors.
func (l *loop) close() {
	l.poller.Close()
	sock.Close(l.wakeR)
	sock.Close(l.wakeW)
}

// wake makes the loop's Wait return: a byte in its wake pipe. A full pipe
// (EAGAIN) already holds a wake-up. The caller holds srv.mu or is the
// goroutine that will close the pipe, so the pipe is open.
func (l *loop) wake() {
	if _, err := sock.Write(l.wakeW, wakeByte); err != nil && !errors.Is(err, unix.EAGAIN) {
		l.srv.logger.Printf("waking loop %d: %v", l.id, err)
	}
}

var wakeByte = []byte{0}

// run waits for events and handles them until the server stops.
func (l *loop) run() error {
	for {
		events, err := l.poller.Wait(l.timeout())
		if err != nil {
			l.stop()
			return err
		}
		l.now = time.Now()
		for _, ev := range events {
			switch {
			case ev.Fd == l.wakeR:
				l.drainWake()
			case ev.Fd == l.srv.lfd && l.id == 0:
				l.acceptAll()
			default:
				l.handle(ev)
			}
		}
		l.endBatch(l)
		if l.srv.stopping.Load() {
			l.stop()
			return nil
		}
	}
}

// A batchEnder is a loop seen from the end of its batch: it sends saved
// replies (sender), closes the connections killed in the batch, and
// accepts again after a pause, each its own way: the readiness loops
// (loop) with system calls, the uring loop (uloop) with operations
// queued on its ring.
type batchEnder interface {
	sender
	closeDead()
	acceptAgain()
}

// endBatch ends a batch of events (or of completions, for b, a uring
// loop): the adds are saved and their replies sent, idle connections
// closed, the dead closed, and loop 0 accepts again once a pause is over.
func (l *loop) endBatch(b batchEnder) {
	l.saveThen(b)
	if l.srv.cfg.Idle > 0 && !l.now.Before(l.nextSweep) {
		l.closeIdle()
	}
	b.closeDead()
	if l.id == 0 && !l.acceptPause.IsZero() && !l.now.Before(l.acceptPause) {
		l.acceptPause = time.Time{}
		b.acceptAgain()
	}
}

// acceptAgain watches the listening socket again, after a pause.
func (l *loop) acceptAgain() { l.poller.Modify(l.srv.lfd, true, false) }

// stop ends the loop's connections: the complete lines each has received
// are answered, as far as its socket takes the replies now, an unfinished
// line is dropped, and it is closed. Connections handed over from now on
// are closed by handOver.
func (l *loop) stop() {
	l.closeInbox()
	for _, c := range l.conns {
		l.progress(c) // requests held back for a later turn
		// What has arrived so far, within reason (stopReads). A client
		// that has closed its side gets its last line answered as usual.
		for i := 0; i < stopReads && c.reading && !c.dead && l.receive(c); i++ {
			l.progress(c)
		}
		if c.eof {
			l.progress(c)
		}
	}
	l.saveStep()
	for _, c := range l.conns {
		l.flush(c)
		l.kill(c, nil)
	}
	l.closeDead()
}
