package etcd_test

import (
	"bufio"
	"bytes"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// load is clients pipelining adds of 1 on front-ends, and what they were
// told: every value must come once, and none may be acknowledged for an
// add sent while etcd has no quorum.
type load struct {
	t     *testing.T
	depth int
	stop  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	addrs    []string // the front-ends, by client
	conns    map[net.Conn]bool
	seen     map[string]bool // values received, in decimal (of any size)
	max      *big.Int
	acked    int
	refused  int
	twice    []string  // values received twice
	outage   time.Time // not zero: no quorum since then; an add sent since must not be acknowledged
	late     int       // adds acknowledged in spite of that
	odd      []string  // replies that are neither
	progress chan struct{}
}

// startLoad starts conns clients on each of addrs, each with depth adds
// in flight.
func startLoad(t *testing.T, addrs []string, conns, depth int) *load {
	l := &load{t: t, depth: depth, stop: make(chan struct{}), conns: map[net.Conn]bool{},
		seen: map[string]bool{}, max: big.NewInt(-1), progress: make(chan struct{}, 1)}
	l.addrs = slices.Clone(addrs) // before the clients read it
	for i := range addrs {
		for j := 0; j < conns; j++ {
			l.wg.Add(1)
			go l.client(i)
		}
	}
	t.Cleanup(l.end)
	return l
}

// setAddr points the clients of front-end i at addr (restarted there).
func (l *load) setAddr(i int, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addrs[i] = addr
}

// client connects to front-end i, again whenever the connection ends,
// until the load ends.
func (l *load) client(i int) {
	defer l.wg.Done()
	for {
		l.mu.Lock()
		addr := l.addrs[i]
		l.mu.Unlock()
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil && l.track(conn) {
			l.session(conn)
			l.untrack(conn)
			continue
		}
		select { // the front-end is down: try again soon, not in a busy loop
		case <-l.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// track notes an open connection, which end closes; false if the load
// has ended (conn is closed).
func (l *load) track(conn net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.stop:
		conn.Close()
		return false
	default:
	}
	l.conns[conn] = true
	return true
}

func (l *load) untrack(conn net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	conn.Close()
	delete(l.conns, conn)
}

// session sends depth adds at a time and reads their replies, until the
// connection ends. A batch all refused waits a little before the next
// (a standby's clients would spin).
func (l *load) session(conn net.Conn) {
	r := bufio.NewReader(conn)
	req := bytes.Repeat([]byte("1\n"), l.depth)
	for {
		conn.SetDeadline(time.Now().Add(time.Minute))
		sent := time.Now()
		if _, err := conn.Write(req); err != nil {
			return
		}
		refused := 0
		for i := 0; i < l.depth; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if !l.reply(strings.TrimSuffix(line, "\r\n"), sent) {
				refused++
			}
		}
		if refused == l.depth {
			select {
			case <-l.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// reply notes a reply to an add sent at sent; false if it is a refusal.
func (l *load) reply(line string, sent time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.HasPrefix(line, "!!!! not saved: ") {
		l.refused++
		return false
	}
	digits := strings.TrimPrefix(line, "  --> ")
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok || !strings.HasPrefix(line, "  --> ") {
		l.odd = append(l.odd, line)
		return false
	}
	if l.seen[digits] {
		l.twice = append(l.twice, digits)
	}
	l.seen[digits] = true
	if v.Cmp(l.max) > 0 {
		l.max = v
	}
	l.acked++
	if !l.outage.IsZero() && sent.After(l.outage) {
		l.late++
	}
	select {
	case l.progress <- struct{}{}:
	default:
	}
	return true
}

// counts returns how many adds were acknowledged and refused so far.
func (l *load) counts() (acked, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked, l.refused
}

// waitAcks waits until n more adds are acknowledged (two minutes at
// most), and returns when the first of them came.
func (l *load) waitAcks(n int, what string) time.Time {
	l.t.Helper()
	start, _ := l.counts()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	var first time.Time
	for {
		acked, refused := l.counts()
		if acked > start && first.IsZero() {
			first = time.Now()
		}
		if acked >= start+n {
			return first
		}
		select {
		case <-l.progress:
		case <-deadline.C:
			l.t.Fatalf("%s: %d adds acknowledged in two minutes, want %d (%d refused so far)", what, acked-start, n, refused)
		}
	}
}

// setOutage says etcd has no quorum since now (true), or has it again.
func (l *load) setOutage(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outage = time.Time{}
	if on {
		l.outage = time.Now()
	}
}

// check fails the test if a value came twice, an add was acknowledged in
// an outage, a reply was odd, or etcd's counter is behind a value a
// client saw.
func (l *load) check(cli *clientv3.Client) {
	l.t.Helper()
	l.mu.Lock()
	seenMax := l.max
	l.mu.Unlock()
	c := counter(l.t, cli) // read after the values it must be above
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.twice) > 0 {
		l.t.Errorf("%d values received twice: %.40q", len(l.twice), l.twice[:min(len(l.twice), 5)])
	}
	if l.late > 0 {
		l.t.Errorf("%d adds sent without a quorum were acknowledged", l.late)
	}
	if len(l.odd) > 0 {
		l.t.Errorf("odd replies: %q", l.odd[:min(len(l.odd), 5)])
	}
	if c.Cmp(seenMax) <= 0 {
		l.t.Errorf("etcd's counter is %.40s, not above %.40s, a value a client saw", c, seenMax)
	}
	l.t.Logf("%d adds acknowledged (%d distinct values), %d refused; etcd's counter is above every value seen", l.acked, len(l.seen), l.refused)
}

// end stops the clients and closes their connections.
func (l *load) end() {
	l.mu.Lock()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	for conn := range l.conns {
		conn.Close()
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		l.t.Errorf("load clients not done a minute after the end")
	}
}
