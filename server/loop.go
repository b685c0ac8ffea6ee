package server

import (
	"errors"
	"sync"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// The poll and event modes share this event loop; only the Poller differs
// (poll(2), or epoll or kqueue). One thread runs a loop, and a loop serves
// many connections: it waits for the ones that are ready, and for each
// does the one read or write that will not block. Nothing blocks but the
// wait, so one slow client cannot hold up the others.
//
// The event mode runs several loops, one per CPU. Loop 0 accepts every
// connection and hands them out in turn, each to the next loop. That
// balances exactly on every OS: Linux could spread connections over
// several listening sockets with SO_REUSEPORT, but it balances by a hash
// of the addresses, and macOS's SO_REUSEPORT does not balance at all.
// Handing a connection over costs a byte written to the other loop's wake
// pipe, once per connection.

// loop is one event loop.
type loop struct {
	srv    *Server
	id     int
	poller sock.Poller
	conns  map[int]*conn // by descriptor
	wakeR  int           // read end of the wake pipe, watched by the poller
	wakeW  int           // write end: wake() writes a byte there

	mu    sync.Mutex
	inbox []accepted // connections loop 0 has handed to this loop

	buf     []byte  // what read returns, for every connection of the loop
	scratch []byte  // replies being built, before they are sent
	closing []*conn // connections to close once this batch of events is done

	next        int       // loop 0: the loop that gets the next connection
	acceptPause time.Time // loop 0: out of descriptors; accept again then
	now         time.Time // when the last Wait returned
	nextSweep   time.Time // when to look for idle connections next
}

type accepted struct {
	fd   int
	peer unix.Sockaddr
}

// conn is one connection of a loop. An idle one holds no buffers: the
// loop's read buffer and reply buffer serve all, and a connection keeps
// only what it could not send yet (out) or could not answer yet (in).
type conn struct {
	fd      int
	peer    unix.Sockaddr
	sess    fetchadd.Session
	out     []byte    // replies not yet sent
	in      []byte    // bytes received but not answered while out was full
	reading bool      // the poller watches for reading
	writing bool      // the poller watches for writing
	eof     bool      // the client has closed its side (or the server stops)
	dead    bool      // to be closed at the end of the batch; ignore its events
	active  time.Time // when it last received or sent bytes
	err     error     // why it was killed; nil: it ended normally
}

// serveLoops runs the poll or event mode: loop 0 in this goroutine, the
// others in their own.
func (s *Server) serveLoops() error {
	if err := sock.SetNonblock(s.lfd); err != nil {
		return err
	}
	var loops []*loop
	defer func() {
		s.mu.Lock()
		s.loops = nil // Stop must not write to a closed wake pipe
		s.mu.Unlock()
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
	s.mu.Lock()
	s.loops = loops
	s.mu.Unlock()
	if s.stopping.Load() { // Stop came before it could wake them
		for _, l := range loops {
			l.wake()
		}
	}
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

func (s *Server) newLoop(id int) (*loop, error) {
	var p sock.Poller
	if s.cfg.Mode == Poll {
		p = sock.NewPollPoller()
	} else {
		var err error
		if p, err = sock.NewEventPoller(); err != nil {
			return nil, err
		}
	}
	r, w, err := sock.Pipe()
	if err != nil {
		p.Close()
		return nil, err
	}
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
// (EAGAIN) already holds a wake-up.
func (l *loop) wake() {
	sock.Write(l.wakeW, []byte{0})
}

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
		if l.srv.cfg.Idle > 0 && !l.now.Before(l.nextSweep) {
			l.closeIdle()
		}
		l.closeDead()
		if l.id == 0 && !l.acceptPause.IsZero() && !l.now.Before(l.acceptPause) {
			l.acceptPause = time.Time{}
			l.poller.Modify(l.srv.lfd, true, false)
		}
		if l.srv.stopping.Load() {
			l.stop()
			return nil
		}
	}
}

// timeout is how long the next Wait may take, in milliseconds: until
// accepting resumes, or the next look for idle connections.
func (l *loop) timeout() int {
	var until time.Time
	if !l.acceptPause.IsZero() {
		until = l.acceptPause
	}
	if l.srv.cfg.Idle > 0 && len(l.conns) > 0 && (until.IsZero() || l.nextSweep.Before(until)) {
		until = l.nextSweep
	}
	if until.IsZero() {
		return -1
	}
	return max(0, int(time.Until(until).Milliseconds())+1)
}

// closeIdle closes the connections quiet for the idle time or more. It
// runs every quarter of the idle time, so a connection is closed between
// one and one and a quarter idle times after its last bytes; a scan of
// all connections that often costs little, and needs no timer per
// connection.
func (l *loop) closeIdle() {
	idle := l.srv.cfg.Idle
	l.nextSweep = l.now.Add(max(idle/4, time.Millisecond))
	for _, c := range l.conns {
		if !c.dead && l.now.Sub(c.active) >= idle {
			if len(c.out) == 0 {
				sock.Send(c.fd, l.srv.idleLine())
			}
			l.kill(c, errIdle)
		}
	}
}

// drainWake empties the wake pipe and takes the connections handed over.
func (l *loop) drainWake() {
	var b [64]byte
	for {
		if n, err := sock.Read(l.wakeR, b[:]); err != nil || n < len(b) {
			break
		}
	}
	l.mu.Lock()
	inbox := l.inbox
	l.inbox = nil
	l.mu.Unlock()
	for _, a := range inbox {
		l.register(a)
	}
}

// acceptAll takes every connection waiting in the backlog (loop 0).
func (l *loop) acceptAll() {
	s := l.srv
	for !s.stopping.Load() {
		fd, peer, err := sock.Accept(s.lfd, true)
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN):
			return
		case outOfFds(err):
			s.logger.Printf("%v; not accepting for %v", err, acceptPauseTime)
			l.acceptPause = time.Now().Add(acceptPauseTime)
			l.poller.Modify(s.lfd, false, false)
			return
		case errors.Is(err, unix.ECONNABORTED):
			continue // the client left before accept took it
		default:
			s.logger.Printf("%v", err)
			return
		}
		if s.full(fd, peer) {
			continue
		}
		s.active.Add(1)
		target := s.loops[l.next]
		l.next = (l.next + 1) % len(s.loops)
		if target == l {
			l.register(accepted{fd, peer})
			continue
		}
		target.mu.Lock()
		target.inbox = append(target.inbox, accepted{fd, peer})
		target.mu.Unlock()
		target.wake()
	}
}

// register starts serving a connection in this loop.
func (l *loop) register(a accepted) {
	setNoDelay(a.fd)
	c := &conn{fd: a.fd, peer: a.peer, reading: true, active: time.Now()}
	if l.nextSweep.IsZero() {
		l.nextSweep = c.active.Add(max(l.srv.cfg.Idle/4, time.Millisecond))
	}
	c.sess = *fetchadd.NewSession(&l.srv.counter)
	if err := l.poller.Add(a.fd, true, false); err != nil {
		sock.Close(a.fd)
		l.srv.active.Add(-1)
		l.srv.logger.Printf("fd %d: %v", a.fd, err)
		return
	}
	l.conns[a.fd] = c
	l.srv.logger.Printf("fd %d: connection from %s (loop %d)", a.fd, sock.String(a.peer), l.id)
}

// handle acts on one event of a connection.
func (l *loop) handle(ev sock.Event) {
	c := l.conns[ev.Fd]
	if c == nil || c.dead {
		return // an event for a connection closed in this batch
	}
	if ev.Write && c.writing {
		l.send(c, nil)
	}
	if ev.Read && c.reading && !c.dead {
		l.receive(c)
	}
	l.progress(c)
}

// receive does one read: the poller reports the descriptor again if more
// is waiting, and one read per turn keeps the loop fair. It says whether
// it got any bytes.
func (l *loop) receive(c *conn) bool {
	n, err := sock.Read(c.fd, l.buf)
	switch {
	case errors.Is(err, unix.EAGAIN):
	case err != nil:
		l.kill(c, err)
	case n == 0:
		c.eof = true
	default:
		c.active = l.now
		l.answer(c, l.buf[:n])
		return true
	}
	return false
}

// answer answers the lines in data, sending the replies as it goes. What
// it cannot answer, because replies are waiting that the client does not
// read, it keeps in c.in; the connection stops reading until they are
// sent, so a client that sends without reading holds at most outLimit of
// replies and one read's worth of requests.
func (l *loop) answer(c *conn, data []byte) {
	for len(data) > 0 && !c.dead {
		if len(c.out) >= outLimit {
			c.in = append(c.in, data...)
			return
		}
		var used int
		if len(c.out) > 0 {
			c.out, used = c.sess.Answer(c.out, data, outLimit)
			l.send(c, nil)
		} else {
			var out []byte
			out, used = c.sess.Answer(l.scratch[:0], data, outLimit)
			l.scratch = out[:0]
			l.send(c, out)
		}
		data = data[used:]
	}
}

// send sends what it can: out, built in the loop's scratch buffer, or
// else the connection's waiting replies. What the socket does not take
// waits in c.out.
func (l *loop) send(c *conn, out []byte) {
	fromScratch := out != nil
	if !fromScratch {
		out = c.out
	}
	if len(out) == 0 {
		return
	}
	n, err := sock.Send(c.fd, out)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.kill(c, err)
		return
	}
	if n > 0 {
		c.active = l.now
	}
	rest := out[n:]
	switch {
	case len(rest) == 0:
		c.out = nil
	case fromScratch:
		c.out = append([]byte(nil), rest...)
	default:
		c.out = c.out[:copy(c.out, rest)]
	}
}

// progress moves a connection on after an event: answer held requests if
// there is room, answer the last line at the end of the stream, close when
// all is said, and watch for what it needs next.
func (l *loop) progress(c *conn) {
	if c.dead {
		return
	}
	if len(c.in) > 0 && len(c.out) < outLimit {
		in := c.in
		c.in = nil
		l.answer(c, in)
	}
	if c.eof && len(c.in) == 0 && len(c.out) < outLimit {
		out := c.sess.Finish(nil)
		if len(c.out) > 0 {
			c.out = append(c.out, out...)
			out = nil
		}
		l.send(c, out)
		if !c.dead && len(c.out) == 0 {
			l.kill(c, nil) // everything answered and sent
			return
		}
	}
	if c.dead {
		return
	}
	reading := !c.eof && len(c.in) == 0 && len(c.out) < outLimit
	writing := len(c.out) > 0
	if reading != c.reading || writing != c.writing {
		c.reading, c.writing = reading, writing
		if err := l.poller.Modify(c.fd, reading, writing); err != nil {
			l.kill(c, err)
		}
	}
}

// kill marks a connection for closing at the end of the batch, so that no
// later event in the batch can meet a new connection that has been given
// the same descriptor number.
func (l *loop) kill(c *conn, err error) {
	if c.dead {
		return
	}
	c.dead, c.err = true, err
	l.closing = append(l.closing, c)
}

func (l *loop) closeDead() {
	for _, c := range l.closing {
		l.poller.Remove(c.fd)
		sock.Close(c.fd)
		delete(l.conns, c.fd)
		l.srv.active.Add(-1)
		l.srv.logConnEnd(c.fd, c.peer, c.err)
	}
	clear(l.closing)
	l.closing = l.closing[:0]
}

// stop ends the loop's connections: the lines each has received are
// answered, as far as its socket takes the replies now, and it is closed.
func (l *loop) stop() {
	l.mu.Lock()
	inbox := l.inbox
	l.inbox = nil
	l.mu.Unlock()
	for _, a := range inbox {
		sock.Close(a.fd)
		l.srv.active.Add(-1)
	}
	for _, c := range l.conns {
		// What has arrived so far, within reason: a client that keeps
		// sending does not keep the server from stopping.
		for i := 0; i < 16 && c.reading && l.receive(c); i++ {
			l.progress(c)
		}
		c.eof = true
		l.progress(c)
		l.kill(c, nil)
	}
	l.closeDead()
}
