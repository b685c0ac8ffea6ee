package bench

import (
	"bytes"
	"errors"
	"sync/atomic"
	"time"

	"fetchadd/poller"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// worker is one event loop of the load generator: a poller and the
// connections it watches, each a batch of requests in flight.
type worker struct {
	l       *load
	poller  poller.Poller
	conns   map[int]*conn
	replies atomic.Int64
	errors  atomic.Int64

	missing  int64     // replies that did not come: late, or the connection closed
	timedOut int64     // connections closed because their replies were late
	firstBad string    // the first reply that was not a number, quoted
	checkAt  time.Time // when a batch may be late: look then (zero: none in flight)

	base      int64    // the counter before the run
	seen      []uint64 // bit v-base: some reply said v
	dups      int64    // replies whose value this worker had seen already
	outside   int64    // replies below base or above what the run can have reached
	unchecked int64    // replies past the bitmap's window
	latency   Histogram
}

// maxReply is the longest reply the load generator reads: a number and
// its prefix take 30 bytes; a longer line is no reply it can use, and a
// connection that sends one is failed rather than buffered.
const maxReply = 512

// stopPoll is how often, at most, a worker waiting for replies looks at
// Config.Stop.
const stopPoll = 100 * time.Millisecond

// conn is one connection of a worker.
type conn struct {
	fd          int
	out         []byte // requests not yet sent
	writing     bool   // the poller watches for writing
	outstanding int    // replies still to come for the last batch
	sent        time.Time
	in          []byte // reply bytes read, not yet parsed
}

// startWorkers makes n workers, each with its poller, and deals the conns
// connections out among them in turn. If any step fails, or Config.Stop
// is closed, it closes every poller and connection it made.
func (l *load) startWorkers(n, conns int) ([]*worker, error) {
	workers := make([]*worker, 0, n)
	for i := 0; i < n; i++ {
		p, err := newPoller()
		if err != nil {
			closeWorkers(workers)
			return nil, err
		}
		workers = append(workers, &worker{l: l, poller: p, conns: make(map[int]*conn), base: l.base})
	}
	for i := 0; i < conns; i++ {
		if closed(l.cfg.Stop) {
			closeWorkers(workers)
			return nil, errInterrupted
		}
		if err := workers[i%n].connect(); err != nil {
			closeWorkers(workers)
			return nil, err
		}
	}
	return workers, nil
}

// closeWorkers closes the workers' connections and pollers.
func closeWorkers(workers []*worker) {
	for _, w := range workers {
		w.close()
	}
}

// connect opens a connection to the server, non-blocking (dial), watched
// for reading.
func (w *worker) connect() error {
	fd, err := dial(w.l.cfg.Addr, w.l.cfg.Timeout)
	if err != nil {
		return err
	}
	if err := w.poller.Add(fd, true, false); err != nil {
		sock.Close(fd)
		return err
	}
	w.conns[fd] = &conn{fd: fd}
	return nil
}

// close closes the worker's connections and its poller.
func (w *worker) close() {
	for fd := range w.conns {
		sock.Close(fd)
	}
	w.poller.Close()
}

// run is the event loop: it sends each connection's first batch, then
// waits for replies and sends the next batch when a batch's replies are
// all in, until every connection has been closed. It closes the poller,
// and any connection still open, before it returns.
func (w *worker) run() error {
	defer w.close()
	for _, c := range w.conns {
		w.next(c)
	}
	buf := make([]byte, 64<<10)
	for len(w.conns) > 0 {
		events, err := w.poller.Wait(w.waitTime())
		if err != nil {
			return err
		}
		if w.l.stopped.Load() {
			return nil // interrupted: the deferred close drops the connections
		}
		now := time.Now()
		for _, ev := range events {
			c := w.conns[ev.Fd]
			if c == nil {
				continue // closed in this batch
			}
			if ev.Write && len(c.out) > 0 {
				w.send(c)
			}
			if ev.Read && w.conns[ev.Fd] != nil {
				w.receive(c, buf, now)
			}
		}
		w.expire(now)
	}
	return nil
}

// waitTime is how long, in milliseconds, the poller may wait: until a
// batch may be late, and no longer than stopPoll if the run can be
// stopped; -1 for no limit.
func (w *worker) waitTime() int {
	limit := time.Duration(-1)
	if !w.checkAt.IsZero() {
		limit = max(time.Until(w.checkAt), 0)
	}
	if w.l.cfg.Stop != nil && (limit < 0 || limit > stopPoll) {
		limit = stopPoll
	}
	if limit < 0 {
		return -1
	}
	return int((limit + time.Millisecond - 1) / time.Millisecond) // rounded up: wake when it is due, not before
}

// expire fails the connections whose batch has waited longer than
// Config.Timeout for its replies, once the earliest is due, and notes when
// the next may be. A batch sent later is due later: checkAt only moves on.
func (w *worker) expire(now time.Time) {
	if w.checkAt.IsZero() || now.Before(w.checkAt) {
		return
	}
	w.checkAt = time.Time{}
	for _, c := range w.conns { // each has a batch in flight
		due := c.sent.Add(w.l.cfg.Timeout)
		if !now.Before(due) {
			w.timedOut++
			w.fail(c)
			continue
		}
		w.due(due)
	}
}

// due notes that a batch may be late at t.
func (w *worker) due(t time.Time) {
	if w.checkAt.IsZero() || t.Before(w.checkAt) {
		w.checkAt = t
	}
}

// next sends the connection's next batch, or closes it when the run is
// over.
func (w *worker) next(c *conn) {
	n := w.l.take()
	if n == 0 {
		w.drop(c)
		return
	}
	c.outstanding = n
	c.out = w.l.batch[:n*w.l.requestLen]
	c.sent = time.Now()
	w.due(c.sent.Add(w.l.cfg.Timeout))
	w.send(c)
}

// send writes what it can of the batch; the poller says when to write the
// rest.
func (w *worker) send(c *conn) {
	n, err := sock.Send(c.fd, c.out, 0)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		w.fail(c)
		return
	}
	c.out = c.out[n:]
	if writing := len(c.out) > 0; writing != c.writing {
		c.writing = writing
		w.poller.Modify(c.fd, true, writing)
	}
}

// receive reads replies, checks and counts each whole one, and sends the
// next batch once the last batch's replies are all in.
func (w *worker) receive(c *conn, buf []byte, now time.Time) {
	n, err := sock.Read(c.fd, buf)
	if errors.Is(err, unix.EAGAIN) {
		return
	}
	if err != nil || n == 0 {
		w.fail(c)
		return
	}
	data := buf[:n]
	if len(c.in) > 0 { // the start of a reply came with the last read
		c.in = append(c.in, data...)
		data = c.in
	}
	proto := w.l.cfg.Proto
	got := 0
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i+1]
		data = data[i+1:]
		if c.outstanding == 0 {
			w.errors.Add(1) // a reply to nothing we sent
			continue
		}
		c.outstanding--
		if v, ok := proto.Reply(line, 1); ok {
			w.mark(v)
			got++
		} else {
			w.bad(line)
		}
	}
	if got > 0 {
		w.replies.Add(int64(got))
		w.latency.Record(uint64(max(now.Sub(c.sent).Microseconds(), 0)), got)
	}
	if len(data) > maxReply {
		if w.firstBad == "" { // no reply is this long: do not wait for its end
			w.firstBad = quote(data)
		}
		w.fail(c)
		return
	}
	c.in = append(c.in[:0], data...) // a partial reply, for the next read
	if c.outstanding == 0 {
		w.next(c)
	}
}

// bad counts a reply that is not a number, and keeps the first.
func (w *worker) bad(reply []byte) {
	w.errors.Add(1)
	if w.firstBad == "" {
		w.firstBad = quote(reply)
	}
}

// fail ends a connection that broke or was late: its missing replies are
// errors (one at least: the connection).
func (w *worker) fail(c *conn) {
	w.missing += int64(c.outstanding)
	w.errors.Add(int64(max(c.outstanding, 1)))
	w.drop(c)
}

// drop stops watching a connection and closes it.
func (w *worker) drop(c *conn) {
	w.poller.Remove(c.fd)
	sock.Close(c.fd)
	delete(w.conns, c.fd)
}
