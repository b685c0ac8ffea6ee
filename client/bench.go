package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// BenchConfig says how to load a server.
type BenchConfig struct {
	Addr     string        // HOST[:PORT]
	Proto    *Protocol     // what to speak; FetchAdd unless set
	Conns    int           // connections
	Depth    int           // pipeline depth: requests sent before reading their replies
	Duration time.Duration // how long to send, if Requests is 0
	Requests int64         // how many requests to send in all (0: for Duration)
	Threads  int           // event loops of the load generator
	Idle     int           // connections opened first and left idle during the run
	Progress io.Writer     // if not nil, a live "ops/s" line is drawn there every second
}

// BenchResult is what a run measured.
type BenchResult struct {
	Requests int64         // replies received
	Errors   int64         // replies that were not a number, and broken connections
	Elapsed  time.Duration // from the first request to the last reply
	Latency  Histogram     // from sending a request to reading its reply
	Base     int64         // the counter before the run
	Distinct bool          // every reply a different value, all in [Base, Base+Requests)
	Dups     int64         // replies that repeated a value
	Outside  int64         // replies outside that range (someone else was adding)
	CPU      time.Duration // the load generator's own CPU time (user + system)
}

// OpsPerSec is replies per second.
func (r *BenchResult) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Histogram counts latencies in microseconds, in buckets of 1/64 of a
// power of two (below 128 µs, exactly): percentiles within 2%, in a fixed
// 64 KiB, whatever the number of requests.
type Histogram struct {
	counts [64 << subBits]uint64
	total  uint64
	max    uint64
}

const subBits = 7

func bucketOf(us uint64) int {
	if us < 1<<subBits {
		return int(us)
	}
	e := bits.Len64(us) - subBits
	return e<<subBits | int(us>>e)
}

func bucketFloor(b int) uint64 {
	if b < 1<<subBits {
		return uint64(b)
	}
	e := b >> subBits
	return uint64(b&(1<<subBits-1)) << e
}

// Record counts n requests that took us microseconds.
func (h *Histogram) Record(us uint64, n int) {
	h.counts[bucketOf(us)] += uint64(n)
	h.total += uint64(n)
	h.max = max(h.max, us)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// Percentile returns the latency below which p percent of the requests
// took (0 < p <= 100); 100 is the largest, exactly.
func (h *Histogram) Percentile(p float64) time.Duration {
	if p >= 100 {
		return time.Duration(h.max) * time.Microsecond
	}
	want := uint64(float64(h.total)*p/100 + 0.5)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if c > 0 && seen >= want {
			return time.Duration(bucketFloor(b)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Percentile is Latency.Percentile.
func (r *BenchResult) Percentile(p float64) time.Duration { return r.Latency.Percentile(p) }

// Bench runs a load: Conns connections, each sending Depth requests of
// "add 1" at a time and reading their Depth replies before it sends more,
// until Requests have been sent or Duration has passed. The connections
// are shared out among Threads event loops (the load generator is itself
// an event-loop client, so that it costs little CPU per request). Before
// the run it reads the counter, so it can check that the replies were
// all different values.
func Bench(cfg BenchConfig) (*BenchResult, error) {
	if cfg.Proto == nil {
		cfg.Proto = FetchAdd
	}
	cfg.Conns, cfg.Depth, cfg.Threads = max(cfg.Conns, 1), max(cfg.Depth, 1), max(cfg.Threads, 1)
	base, err := readCounter(cfg)
	if err != nil {
		return nil, err
	}
	idle, err := openIdle(cfg.Addr, cfg.Idle)
	defer func() {
		for _, fd := range idle {
			sock.Close(fd)
		}
	}()
	if err != nil {
		return nil, err
	}
	request := cfg.Proto.Add(1)
	b := &bench{cfg: cfg, base: base, batch: bytes.Repeat(request, cfg.Depth), requestLen: len(request)}
	if cfg.Requests > 0 {
		b.left.Store(cfg.Requests)
	} else {
		b.left.Store(1 << 62)
	}
	workers := make([]*benchWorker, min(cfg.Threads, cfg.Conns))
	for i := range workers {
		if workers[i], err = b.newWorker(); err != nil {
			return nil, err
		}
	}
	for i := 0; i < cfg.Conns; i++ {
		if err := workers[i%len(workers)].connect(); err != nil {
			for _, w := range workers {
				w.close()
			}
			return nil, err
		}
	}
	cpu0 := cpuTime()
	start := time.Now()
	if cfg.Requests == 0 {
		b.deadline = start.Add(cfg.Duration)
	}
	stopProgress := b.progress(cfg.Progress, start)
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Add(1)
		go func(i int, w *benchWorker) {
			defer wg.Done()
			errs[i] = w.run()
		}(i, w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	res := &BenchResult{Elapsed: elapsed, Base: base, CPU: cpuTime() - cpu0}
	for _, w := range workers {
		res.Requests += w.replies.Load()
		res.Errors += w.errors.Load()
		res.Latency.Merge(&w.latency)
	}
	res.checkDistinct(workers)
	return res, errors.Join(errs...)
}

// maxSpan is how far above the counter's start a reply may be and still
// be looked up in the bitmaps (2^34 requests, 2 GiB of bits): beyond it,
// somebody else has been adding.
const maxSpan = 1 << 34

// checkDistinct checks that the replies were different values and all in
// [Base, Base+Requests). Each worker marked the values it got in a bitmap
// (one bit per request, counting the repeats it saw itself); merged, the
// bitmaps must hold Requests bits, all below Requests.
func (r *BenchResult) checkDistinct(workers []*benchWorker) {
	var all []uint64
	for _, w := range workers {
		r.Dups += w.dups
		r.Outside += w.outside
		if len(w.seen) > len(all) {
			all = append(all, make([]uint64, len(w.seen)-len(all))...)
		}
		for i, word := range w.seen {
			r.Dups += int64(bits.OnesCount64(all[i] & word)) // seen by an earlier worker too
			all[i] |= word
		}
	}
	for i := r.Requests; i < int64(len(all))*64; i++ {
		if all[i/64]&(1<<(i%64)) != 0 {
			r.Outside++
		}
	}
	r.Distinct = r.Dups == 0 && r.Outside == 0
}

type bench struct {
	cfg        BenchConfig
	base       int64        // the counter before the run
	batch      []byte       // Depth requests, sent in one write
	requestLen int          // the bytes of one request
	left       atomic.Int64 // requests not yet sent
	deadline   time.Time    // no new batch after this (Duration runs)
	workers    []*benchWorker
	mu         sync.Mutex
}

// take reserves up to Depth requests to send; 0 means the run is over.
func (b *bench) take() int {
	if !b.deadline.IsZero() && time.Now().After(b.deadline) {
		return 0
	}
	n := int64(b.cfg.Depth)
	left := b.left.Add(-n)
	if left < 0 {
		n += left
	}
	return int(max(n, 0))
}

// progress draws "N requests, X ops/s" on w every second, until the
// returned function is called.
func (b *bench) progress(w io.Writer, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-tick.C:
				var n int64
				b.mu.Lock()
				for _, wk := range b.workers {
					n += wk.replies.Load()
				}
				b.mu.Unlock()
				fmt.Fprintf(w, "\r\033[K%d requests, %.0f ops/s", n, float64(n)/now.Sub(start).Seconds())
			}
		}
	}()
	return func() { close(done); <-finished }
}

// benchWorker is one event loop of the load generator.
type benchWorker struct {
	b       *bench
	poller  sock.Poller
	conns   map[int]*benchConn
	replies atomic.Int64
	errors  atomic.Int64

	base    int64    // the counter before the run
	seen    []uint64 // bit v-base: some reply said v
	dups    int64    // replies whose value this worker had seen already
	outside int64    // replies below base or far above it
	latency Histogram
}

type benchConn struct {
	fd          int
	out         []byte // requests not yet sent
	writing     bool   // the poller watches for writing
	outstanding int    // replies still to come for the last batch
	sent        time.Time
	in          []byte // reply bytes read, not yet parsed
}

func (b *bench) newWorker() (*benchWorker, error) {
	p, err := sock.NewEventPoller()
	if err != nil {
		return nil, err
	}
	w := &benchWorker{b: b, poller: p, conns: make(map[int]*benchConn), base: b.base}
	b.mu.Lock()
	b.workers = append(b.workers, w)
	b.mu.Unlock()
	return w, nil
}

func (w *benchWorker) connect() error {
	fd, err := Dial(w.b.cfg.Addr)
	if err != nil {
		return err
	}
	if err := sock.SetNonblock(fd); err != nil {
		sock.Close(fd)
		return err
	}
	if err := w.poller.Add(fd, true, false); err != nil {
		sock.Close(fd)
		return err
	}
	w.conns[fd] = &benchConn{fd: fd}
	return nil
}

func (w *benchWorker) close() {
	for fd := range w.conns {
		sock.Close(fd)
	}
	w.poller.Close()
}

func (w *benchWorker) run() error {
	defer w.close()
	for _, c := range w.conns {
		w.next(c)
	}
	buf := make([]byte, 64<<10)
	for len(w.conns) > 0 {
		events, err := w.poller.Wait(-1)
		if err != nil {
			return err
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
	}
	return nil
}

// next sends the connection's next batch, or closes it when the run is
// over.
func (w *benchWorker) next(c *benchConn) {
	n := w.b.take()
	if n == 0 {
		w.drop(c)
		return
	}
	c.outstanding = n
	c.out = w.b.batch[:n*w.b.requestLen]
	c.sent = time.Now()
	w.send(c)
}

func (w *benchWorker) send(c *benchConn) {
	n, err := sock.Send(c.fd, c.out)
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

func (w *benchWorker) receive(c *benchConn, buf []byte, now time.Time) {
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
	proto := w.b.cfg.Proto
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
			w.errors.Add(1)
		}
	}
	c.in = append(c.in[:0], data...) // a partial reply, for the next read
	if got > 0 {
		w.replies.Add(int64(got))
		w.latency.Record(uint64(max(now.Sub(c.sent).Microseconds(), 0)), got)
	}
	if len(c.in) > 1<<20 {
		w.fail(c) // no reply is this long
		return
	}
	if c.outstanding == 0 {
		w.next(c)
	}
}

// mark notes that a reply said v.
func (w *benchWorker) mark(v int64) {
	i := v - w.base
	if i < 0 || i >= maxSpan {
		w.outside++
		return
	}
	word := int(i / 64)
	if word >= len(w.seen) {
		w.seen = append(w.seen, make([]uint64, max(word+1-len(w.seen), len(w.seen)))...)
	}
	bit := uint64(1) << (i % 64)
	if w.seen[word]&bit != 0 {
		w.dups++
	}
	w.seen[word] |= bit
}

// fail ends a connection that broke: its missing replies are errors.
func (w *benchWorker) fail(c *benchConn) {
	w.errors.Add(int64(max(c.outstanding, 1)))
	w.drop(c)
}

func (w *benchWorker) drop(c *benchConn) {
	w.poller.Remove(c.fd)
	sock.Close(c.fd)
	delete(w.conns, c.fd)
}

// openIdle opens n connections that send nothing: the server must hold
// them and still answer the active ones promptly.
func openIdle(addr string, n int) ([]int, error) {
	fds := make([]int, 0, n)
	for i := 0; i < n; i++ {
		fd, err := Dial(addr)
		if err != nil {
			return fds, fmt.Errorf("idle connection %d: %w", i+1, err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// readCounter reads the counter before the run ("add 0"), and sets up
// what the protocol needs first.
func readCounter(cfg BenchConfig) (int64, error) {
	fd, err := Dial(cfg.Addr)
	if err != nil {
		return 0, err
	}
	defer sock.Close(fd)
	r := bufio.NewReader(Reader(fd))
	if cfg.Proto.setup != "" {
		if err := sock.SendAll(fd, []byte(cfg.Proto.setup)); err != nil {
			return 0, err
		}
		if _, err := r.ReadBytes('\n'); err != nil {
			return 0, err
		}
	}
	if err := sock.SendAll(fd, cfg.Proto.Add(0)); err != nil {
		return 0, err
	}
	line, err := r.ReadBytes('\n')
	if err != nil {
		return 0, err
	}
	v, ok := cfg.Proto.Reply(line, 0)
	if !ok {
		return 0, fmt.Errorf("%s: unexpected reply %q to %q", cfg.Addr, line, cfg.Proto.Add(0))
	}
	return v, nil
}

// Protocol is a line protocol with a counter that the bench tool can
// drive: fetchadd's own, or redis's INCRBY and memcached's incr, to
// compare them the same way.
type Protocol struct {
	name   string
	setup  string // sent once first, if not empty; its reply is one line
	add    string // the request that adds n, with %d for n
	prefix string // what a reply starts with before its number
	after  bool   // the reply gives the value after the add, not before
}

// The protocols Bench speaks.
var (
	FetchAdd = &Protocol{name: "fetchadd", add: "%d\n", prefix: "  --> "}
	Redis    = &Protocol{name: "redis", add: "INCRBY fetchadd:bench %d\r\n", prefix: ":", after: true}
	// "add" creates the key only if it is not there.
	Memcache = &Protocol{name: "memcached", setup: "add fetchadd_bench 0 0 1\r\n0\r\n", add: "incr fetchadd_bench %d\r\n", after: true}
)

// Protocols lists them by name.
var Protocols = map[string]*Protocol{"fetchadd": FetchAdd, "redis": Redis, "memcached": Memcache}

// Name is the protocol's name.
func (p *Protocol) Name() string { return p.name }

// Add is the request that adds n (Add(0) reads the counter).
func (p *Protocol) Add(n int) []byte { return []byte(fmt.Sprintf(p.add, n)) }

// Reply reads the reply to Add(n) and returns the counter's value before
// the add: "  --> 41\r\n" (fetchadd), ":42\r\n" (redis, the value
// after), "42\r\n" (memcached, after). ok is false for anything else.
func (p *Protocol) Reply(line []byte, n int64) (before int64, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(p.prefix))
	if !ok {
		return 0, false
	}
	v, ok := atoi(rest)
	if p.after {
		v -= n
	}
	return v, ok
}

// atoi reads a decimal int64 ending the line ("\r\n" or "\n"), without
// allocating: it runs once per reply.
func atoi(b []byte) (int64, bool) {
	b = bytes.TrimRight(b, "\r\n")
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
