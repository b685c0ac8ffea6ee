// Package bench is fetchadd's load generator: many connections, each
// sending "add 1" requests a batch at a time, shared out among a few event
// loops. It measures requests per second and latency, and checks what a
// fetch-and-add must give: every reply a different value. It speaks redis's
// INCRBY and memcached's incr too, to measure those servers the same way.
package bench

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Config says how to load a server.
type Config struct {
	Addr     string        // HOST[:PORT]
	Proto    *Protocol     // what to speak; FetchAdd unless set
	Conns    int           // connections
	Depth    int           // pipeline depth: requests sent before reading their replies
	Duration time.Duration // how long to send, if Requests is 0
	Requests int64         // how many requests to send in all (0: for Duration)
	Threads  int           // event loops of the load generator
	Idle     int           // connections opened first and left idle during the run
	Progress io.Writer     // if not nil, a live "ops/s" line is drawn there every second
	// Timeout is how long a batch's replies may take, from its first
	// request sent to its last reply read (0: DefaultTimeout). A
	// connection whose replies are late is closed and its missing
	// replies count as errors, so a Duration run ends by Duration +
	// Timeout whatever the server does. The counter's read, whole, and
	// each connect (a server whose backlog is full drops the handshake)
	// are given Timeout too.
	Timeout time.Duration
	// Stop, if not nil, ends the run early when it is closed (Ctrl-C):
	// the replies still to come are not waited for, nor counted as
	// errors, and Result.Interrupted is set. Closed before the run
	// begins (while the counter is read or the connections are made),
	// Run returns errInterrupted, having measured nothing; a connect in
	// progress then ends within Timeout.
	Stop <-chan struct{}
}

// DefaultTimeout is Config.Timeout's default: far longer than a batch
// takes on a server that answers, short beside a run.
const DefaultTimeout = 2 * time.Second

// Result is what a run measured.
type Result struct {
	Requests    int64         // replies received
	Sent        int64         // requests sent (Requests, unless some went unanswered)
	Errors      int64         // replies that were not a number, or were missing
	Missing     int64         // of Errors: replies that did not come (late, or the connection closed)
	TimedOut    int64         // connections closed because their replies were later than Timeout
	FirstBad    string        // the first reply that was not a number, quoted (at most quoteMax bytes of it)
	Elapsed     time.Duration // from the first request to the last reply
	Latency     Histogram     // from sending a request to reading its reply
	Base        int64         // the counter before the run
	Distinct    bool          // every reply a different value, all in [Base, Base+Sent)
	Dups        int64         // replies that repeated a value
	Outside     int64         // replies outside that range (someone else was adding)
	Window      int64         // values from Base that the check could look at (its bitmaps' reach)
	Unchecked   int64         // replies in the range but past Window: not checked
	Interrupted bool          // Stop ended the run early
	CPU         time.Duration // the load generator's own CPU time (user + system)
}

// OpsPerSec is replies per second.
func (r *Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile is Latency.Percentile.
func (r *Result) Percentile(p float64) time.Duration { return r.Latency.Percentile(p) }

// Run runs a load: Conns connections, each sending Depth requests of
// "add 1" at a time and reading their Depth replies before it sends more,
// until Requests have been sent or Duration has passed. The connections
// are shared out among Threads event loops (the load generator is itself
// an event-loop client, so that it costs little CPU per request). Before
// the run it reads the counter, so it can check that the replies were
// all different values. Whatever it returns, it has closed every
// descriptor it opened.
func Run(cfg Config) (*Result, error) {
	if cfg.Proto == nil {
		cfg.Proto = FetchAdd
	}
	cfg.Conns, cfg.Depth, cfg.Threads = max(cfg.Conns, 1), max(cfg.Depth, 1), max(cfg.Threads, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	base, err := readCounter(cfg)
	if err != nil {
		return nil, err
	}
	idle, err := openIdle(cfg)
	if err != nil {
		return nil, err
	}
	defer closeAll(idle) // after the run: they are idle during it
	request := cfg.Proto.Add(1)
	l := &load{cfg: cfg, base: base, batch: bytes.Repeat(request, cfg.Depth), requestLen: len(request)}
	l.total = 1 << 62
	if cfg.Requests > 0 {
		l.total = cfg.Requests
	}
	l.left.Store(l.total)
	workers, err := l.startWorkers(min(cfg.Threads, cfg.Conns), cfg.Conns)
	if err != nil {
		return nil, err
	}
	cpu0 := cpuTime()
	start := time.Now()
	if cfg.Requests == 0 {
		l.deadline = start.Add(cfg.Duration)
	}
	stopProgress := progress(cfg.Progress, start, workers)
	stopWatching := l.watchStop()
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Add(1)
		go func(i int, w *worker) {
			defer wg.Done()
			errs[i] = w.run() // closes the worker's poller and connections
		}(i, w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopWatching()
	stopProgress()
	res := &Result{Elapsed: elapsed, Base: base, Sent: l.taken(), CPU: cpuTime() - cpu0, Interrupted: l.stopped.Load()}
	for _, w := range workers {
		res.Requests += w.replies.Load()
		res.Errors += w.errors.Load()
		res.Missing += w.missing
		res.TimedOut += w.timedOut
		if res.FirstBad == "" {
			res.FirstBad = w.firstBad
		}
		res.Latency.Merge(&w.latency)
	}
	res.checkDistinct(workers)
	return res, errors.Join(errs...)
}

// load is what a run's workers share.
type load struct {
	cfg        Config
	base       int64        // the counter before the run
	batch      []byte       // Depth requests, sent in one write
	requestLen int          // the bytes of one request
	total      int64        // requests to send in all
	left       atomic.Int64 // requests not yet sent
	deadline   time.Time    // no new batch after this (Duration runs)
	stopped    atomic.Bool  // Config.Stop was closed
}

// take reserves up to Depth requests to send; 0 means the run is over.
func (l *load) take() int {
	if l.stopped.Load() || !l.deadline.IsZero() && time.Now().After(l.deadline) {
		return 0
	}
	n := int64(l.cfg.Depth)
	left := l.left.Add(-n)
	if left < 0 {
		n += left
	}
	return int(max(n, 0))
}

// taken is how many requests have been reserved so far: no reply to this
// run's requests can be that far above the counter's start.
func (l *load) taken() int64 {
	return min(l.total-l.left.Load(), l.total)
}

// closed says whether stop has been closed; a nil stop never is.
func closed(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// watchStop sets stopped when Config.Stop is closed, until the returned
// function is called.
func (l *load) watchStop() (stop func()) {
	if l.cfg.Stop == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-l.cfg.Stop:
			l.stopped.Store(true)
		case <-done:
		}
	}()
	return func() { close(done); <-finished }
}
