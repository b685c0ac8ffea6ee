// Package server runs the fetch-and-add service over TCP. It listens with
// socket, setsockopt, bind and listen, then serves in one of five modes,
// the lab's server and the ones after it:
//
//   - iterative: one connection at a time, blocking calls (the lab's)
//   - threaded: a thread (goroutine) per connection, blocking calls
//   - poll: one thread, non-blocking descriptors, poll(2)
//   - event: an event loop per CPU on epoll (Linux) or kqueue (BSD, macOS)
//   - uring: an event loop per CPU on io_uring (Linux 5.19 and later)
//
// Every mode speaks the same protocol (fetchadd.Session) and shares one
// counter for the server's whole life.
package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/sock"
	"fetchadd/state"

	"golang.org/x/sys/unix"
)

// Backlog is listen's backlog: how many connections the kernel completes
// (three-way handshake and all) before an accept takes them. Linux caps it
// at net.core.somaxconn.
const Backlog = 4096

// The modes, in the order the course meets them.
const (
	Iterative = "iterative"
	Threaded  = "threaded"
	Poll      = "poll"
	Event     = "event"
	Uring     = "uring"
)

// Modes lists the modes.
var Modes = []string{Iterative, Threaded, Poll, Event, Uring}

// Connection limits, by mode (Config.MaxConns).
const (
	// MaxThreads caps the threaded mode. A goroutine blocked in a raw
	// system call holds an OS thread of its own, and the Go runtime ends
	// the process when it reaches 10,000 threads.
	MaxThreads = 5000
	// DefaultThreadedConns is the threaded mode's default limit.
	DefaultThreadedConns = 2000
	// DefaultMaxConns is the limit of the other modes, whose connections
	// cost a descriptor and a few hundred bytes each.
	DefaultMaxConns = 100000
)

// readSize is how much one read asks for in the blocking modes; the event
// loops read up to loopReadSize at a time into one buffer per loop.
const (
	readSize     = 4096
	loopReadSize = 64 << 10
)

// outLimit bounds the replies a connection has built and not yet sent: a
// server sends them (or, in an event loop, stops reading) before it
// answers more lines.
const outLimit = 64 << 10

// Config says where and how to serve.
type Config struct {
	Addr     netip.AddrPort // where to listen (see ResolveAddr); port 0: any free port
	Mode     string         // one of Modes; Iterative if empty
	Loops    int            // event and uring modes: how many event loops; 0: one per CPU
	MaxConns int            // connections served at once; 0: the mode's default
	Idle     time.Duration  // close a connection quiet this long; 0: never
	Log      *log.Logger    // where connections are logged; nil: nowhere
	Backlog  int            // listen's backlog; 0: the constant Backlog (the lab's lesson: 1)
	// LineBudget bounds the bytes all connections together hold for
	// unfinished lines (see fetchadd.Budget); 0: fetchadd.DefaultLineBudget.
	LineBudget int
	// StatePath is the state file that keeps the counter across restarts
	// (see package state); "": none, the counter starts at 0. StateReset
	// writes 0 over it first.
	StatePath  string
	StateReset bool
	// Store is another store for the counter, in place of a state file:
	// a group commit over it (state.NewGroup), which loads the counter
	// before its first commit. fetchadd-etcd gives etcd's.
	Store *state.Group
}

// DefaultIdle is how long a connection may stay quiet (nothing received,
// nothing sent) before the server closes it. Five minutes lets a student
// think between two numbers typed into nc, and still frees, within
// minutes, what a forgotten client holds: in the iterative mode, the
// whole server.
const DefaultIdle = 5 * time.Minute

// acceptPauseTime is how long a server stops accepting when the process
// is out of descriptors (EMFILE, ENFILE). Accepting at once again would
// fail at once again: a busy loop. The clients wait in the backlog
// meanwhile, and the connections being served go on.
const acceptPauseTime = 100 * time.Millisecond

// ResolveAddr reads a listening address, "HOST:PORT" or "HOST" (port
// fetchadd.DefaultPort). HOST may be a name, which resolves to its first
// IPv4 address if it has one, or an empty string, meaning 0.0.0.0.
func ResolveAddr(addr string) (netip.AddrPort, error) {
	host, port, err := sock.SplitHostPort(addr, fetchadd.DefaultPort)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ips, err := sock.Resolve(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", addr, err)
	}
	ip := ips[0]
	for _, v4 := range ips {
		if v4.Is4() {
			ip = v4
			break
		}
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// Server is a listening fetch-and-add server.
type Server struct {
	cfg      Config
	lfd      int // the listening socket
	addr     netip.AddrPort
	counter  fetchadd.Counter
	logger   *log.Logger
	budget   *fetchadd.Budget // memory for unfinished lines, shared by all connections
	state    *state.Group     // the counter's group commit; nil: the counter is not saved
	closeSt  func() int       // closes the store, saying how many commits it made
	stopping atomic.Bool
	active   atomic.Int64 // connections being served

	mu     sync.Mutex   // guards conns, lfd and the stop pipe against close and reuse of numbers
	conns  map[int]bool // blocking modes: connections being served
	loops  []*loop      // poll and event modes
	closed bool         // Serve has returned and closed lfd and the stop pipe
	// The stop pipe: Stop writes a byte that nobody reads, so that its
	// read end stays readable and wakes every blocking-mode connection
	// waiting in poll for room to send.
	stopR, stopW int
}

// CheckConfig says what is wrong with cfg's mode and limits, if anything.
func CheckConfig(cfg Config) error {
	switch cfg.Mode {
	case "", Iterative, Threaded, Poll, Event, Uring:
	default:
		return fmt.Errorf("unknown mode %q (want %s, %s, %s, %s or %s)", cfg.Mode, Iterative, Threaded, Poll, Event, Uring)
	}
	if cfg.Loops < 0 || cfg.Loops > 1024 {
		return fmt.Errorf("%d loops: want 1 to 1024 (0: one per CPU)", cfg.Loops)
	}
	if cfg.Idle < 0 {
		return fmt.Errorf("-idle %v: want a duration of 0 (never) or more", cfg.Idle)
	}
	if cfg.MaxConns < 0 {
		return fmt.Errorf("-max-conns %d: want a positive number", cfg.MaxConns)
	}
	if cfg.StateReset && cfg.StatePath == "" {
		return fmt.Errorf("-state-reset: give the file with -state FILE")
	}
	if cfg.Store != nil && cfg.StatePath != "" {
		return fmt.Errorf("-state %s: the counter is kept in another store", cfg.StatePath)
	}
	if cfg.LineBudget < 0 {
		return fmt.Errorf("-line-budget %d: want a number of bytes (0: %d)", cfg.LineBudget, fetchadd.DefaultLineBudget)
	}
	if cfg.Backlog < 0 {
		return fmt.Errorf("-backlog %d: want 1 or more (0: %d)", cfg.Backlog, Backlog)
	}
	if cfg.Mode == Threaded && cfg.MaxConns > MaxThreads {
		return fmt.Errorf("-max-conns %d: the threaded mode holds a thread per connection; at most %d", cfg.MaxConns, MaxThreads)
	}
	return nil
}

// Listen opens the listening socket for cfg: socket, setsockopt, bind and
// listen. The server does not accept until Serve.
func Listen(cfg Config) (*Server, error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	if cfg.Mode == "" {
		cfg.Mode = Iterative
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
		if cfg.Mode == Threaded {
			cfg.MaxConns = DefaultThreadedConns
		}
	}
	switch {
	case cfg.Mode == Poll:
		cfg.Loops = 1
	case (cfg.Mode == Event || cfg.Mode == Uring) && cfg.Loops == 0:
		cfg.Loops = runtime.NumCPU()
	}
	if cfg.Mode == Uring {
		// Before listening: a kernel that refuses io_uring is said in
		// one line, and the port and the state file are not touched.
		if err := CheckUring(); err != nil {
			return nil, err
		}
	}
	if cfg.Backlog == 0 {
		cfg.Backlog = Backlog
	}
	if cfg.LineBudget == 0 {
		cfg.LineBudget = fetchadd.DefaultLineBudget
	}
	logger := cfg.Log
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	s := &Server{cfg: cfg, logger: logger, conns: make(map[int]bool), budget: fetchadd.NewBudget(cfg.LineBudget)}
	// The listening socket first: a server that cannot listen must not
	// touch the state file (-state-reset would write 0 over it).
	fd, addr, err := openListener(cfg.Addr, cfg.Backlog)
	if err != nil {
		return nil, err
	}
	if s.stopR, s.stopW, err = sock.Pipe(); err != nil {
		sock.Close(fd)
		return nil, err
	}
	s.lfd, s.addr = fd, addr
	if cfg.StatePath != "" {
		st, value, err := state.Open(cfg.StatePath, cfg.StateReset, logger)
		if err != nil {
			s.closeListener()
			return nil, err
		}
		s.state, s.closeSt = &st.Group, st.Close
		s.counter.Set(value)
		logger.Printf("state: %s: the counter is %v", cfg.StatePath, value)
	}
	if cfg.Store != nil {
		s.state, s.closeSt = cfg.Store, cfg.Store.Close
	}
	return s, nil
}

// openListener makes a listening TCP socket bound to addr and returns it
// with the address it got (the port the kernel chose, if addr's is 0).
// backlog is listen's: how many finished handshakes wait for accept.
func openListener(addr netip.AddrPort, backlog int) (int, netip.AddrPort, error) {
	fail := func(err error) (int, netip.AddrPort, error) {
		return -1, netip.AddrPort{}, fmt.Errorf("listen on %s: %w", addr, err)
	}
	ip := addr.Addr()
	fd, err := sock.Socket(sock.Domain(ip), unix.SOCK_STREAM, 0)
	if err != nil {
		return fail(err)
	}
	// SO_REUSEADDR lets a restarted server bind its port at once, although
	// connections of the last run still linger there in TIME_WAIT.
	err = sock.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err == nil && ip.Is6() {
		// Whether [::] also takes IPv4 differs by OS: say it. IPv6 only.
		err = sock.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err == nil {
		err = sock.Bind(fd, sock.Sockaddr(ip, int(addr.Port())))
	}
	if err == nil {
		err = sock.Listen(fd, backlog)
	}
	var sa unix.Sockaddr
	if err == nil {
		sa, err = sock.Getsockname(fd)
	}
	if err != nil {
		sock.Close(fd)
		return fail(err)
	}
	return fd, sock.AddrPort(sa), nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Mode is the mode the server serves in.
func (s *Server) Mode() string { return s.cfg.Mode }

// Loops is how many event loops the server runs (poll, event and uring
// modes).
func (s *Server) Loops() int { return s.cfg.Loops }

// MaxConns is how many connections the server serves at once.
func (s *Server) MaxConns() int { return s.cfg.MaxConns }

// Counter is the server's counter, shared by all its connections.
func (s *Server) Counter() *fetchadd.Counter { return &s.counter }

// Serve accepts and serves connections until Stop, then closes the
// listening socket. It returns nil after Stop, or the error that ended it.
func (s *Server) Serve() error {
	defer s.closeListener()
	if s.state != nil {
		s.state.Start(s.counter.Snapshot, s.counter.Reset)
		defer func() { s.logger.Printf("state: %d commits", s.closeSt()) }()
	}
	switch s.cfg.Mode {
	case Threaded:
		return s.serveThreaded()
	case Poll, Event:
		return s.serveLoops()
	case Uring:
		return s.serveUring()
	}
	return s.serveIterative()
}

// Stop makes Serve return: it stops accepting, lets each connection answer
// the complete lines it has received (an unfinished line is dropped), and
// closes them. Serve returns when they are closed.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock() // held while waking loops: serveLoops closes their pipes under it
	s.stopping.Store(true)
	if s.closed {
		return // Serve has returned: its descriptors' numbers may be another's now
	}
	// The blocking modes. On Linux, shutdown on a listening socket wakes
	// a blocked accept, which then fails with EINVAL; elsewhere it may
	// not, and the process ends without waiting for accept to return.
	sock.Shutdown(s.lfd, unix.SHUT_RDWR)
	for fd := range s.conns {
		// A blocked read returns what has arrived, then 0.
		sock.Shutdown(fd, unix.SHUT_RD)
	}
	sock.Write(s.stopW, wakeByte) // and a send waiting for room gives up
	for _, l := range s.loops {
		l.wake()
	}
}

// closeListener closes the listening socket and the stop pipe when Serve
// returns, under the lock, so that a later Stop does not touch their
// numbers.
func (s *Server) closeListener() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	sock.Close(s.lfd)
	sock.Close(s.stopR)
	sock.Close(s.stopW)
}

// track counts a new connection of a blocking mode, which Stop must wake;
// it says no, and closes fd, if the server is stopping.
func (s *Server) track(fd int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		sock.Close(fd)
		return false
	}
	s.conns[fd] = true
	s.active.Add(1)
	return true
}

// closeTracked closes a connection of a blocking mode. It holds the lock
// so that Stop never shuts down a number that close has freed for reuse.
func (s *Server) closeTracked(fd int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sock.Close(fd)
	delete(s.conns, fd)
	s.active.Add(-1)
}

// sendIdleLine tells a connection that the server closes it for being
// quiet too long, if the line fits in the socket buffer now: poll with
// no wait says whether there is room, and the send does not wait either.
// A connection that does not read gets no line rather than a blocked
// server or half a line.
func (s *Server) sendIdleLine(fd int) {
	room := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	if n, err := sock.Poll(room, 0); n == 1 && err == nil && room[0].Revents == unix.POLLOUT {
		line := fmt.Sprintf("%s idle for %v: closing%s", fetchadd.Invalid, s.cfg.Idle, fetchadd.CRLF)
		sock.Send(fd, []byte(line), unix.MSG_DONTWAIT)
	}
}

// save makes the adds whose replies are out[from:] durable before any of
// them is sent, when the counter is kept in a state file: it waits until
// the file holds the counter as it is now, which has those adds in it
// (one commit serves every connection and loop waiting at the time). If
// that commit fails, each of those replies that reports an add becomes a
// refusal that says why; "!!!!" for a line that is not a number stays.
func (s *Server) save(out []byte, from int) []byte {
	if s.state == nil || len(out) == from {
		return out
	}
	err := s.state.Sync(s.counter.Version())
	if err == nil {
		return out
	}
	return append(out[:from], refuse(out[from:], err)...)
}

// refuse returns replies with each reply that reports an add turned into a
// refusal that says why it could not be saved; "!!!!" for a line that is
// not a number stays. The add has been made in memory, and the next
// commit that works saves it: values may be skipped, never repeated, and
// a client must not count on a refused add having been undone.
func refuse(replies []byte, err error) []byte {
	var out []byte
	for len(replies) > 0 {
		end := bytes.Index(replies, []byte(fetchadd.CRLF)) + len(fetchadd.CRLF)
		if bytes.HasPrefix(replies, []byte(fetchadd.Invalid)) {
			out = append(out, replies[:end]...)
		} else {
			out = fmt.Appendf(out, "%s not saved: %s%s", fetchadd.Invalid, why(err), fetchadd.CRLF)
		}
		replies = replies[end:]
	}
	return out
}

// why is what a client is told of a failed save: the store's words for
// it (state.Reason), or the system's word for it ("no space left on
// device"), or that the state file was removed or replaced, without the
// file's name, which is the server's business (its log has it); and that
// the add may still count.
func why(err error) string {
	var errno unix.Errno
	var reason *state.Reason
	switch {
	case errors.As(err, &reason):
		return reason.Text
	case errors.Is(err, state.ErrReplaced):
		return state.ErrReplaced.Error() + mayCount
	case errors.As(err, &errno):
		return errno.Error() + mayCount
	}
	return "the counter could not be saved" + mayCount
}

// mayCount ends a refusal whose commit's outcome is unknown.
const mayCount = " (the add may still count)"

// accept is sock.Accept; a test replaces it to make accept fail as the
// kernel seldom does on demand (ECONNABORTED).
var accept = sock.Accept

// outOfFds says whether accept failed for want of descriptors.
func outOfFds(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}

// full says whether a new connection is over the limit, and then refuses
// it: one line saying why, then close. A new socket's send buffer is
// empty, so the short send does not block.
func (s *Server) full(fd int, peer unix.Sockaddr) bool {
	if s.active.Load() < int64(s.cfg.MaxConns) {
		return false
	}
	sock.Send(fd, []byte(fmt.Sprintf("%s server busy: %d connections, its limit; try again later%s", fetchadd.Invalid, s.cfg.MaxConns, fetchadd.CRLF)), unix.MSG_DONTWAIT)
	sock.Close(fd)
	s.logger.Printf("refused %s: %d connections, the limit", sock.String(peer), s.cfg.MaxConns)
	return true
}

// logConnEnd logs how a connection ended. A reset or a peer that went away
// while we wrote is an everyday event, not a server error.
func (s *Server) logConnEnd(fd int, peer unix.Sockaddr, err error) {
	switch {
	case err == nil:
		s.logger.Printf("fd %d: %s closed", fd, sock.String(peer))
	case errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.EPIPE):
		s.logger.Printf("fd %d: %s went away (%v)", fd, sock.String(peer), err)
	default:
		s.logger.Printf("fd %d: %s: %v", fd, sock.String(peer), err)
	}
}

// setNoDelay turns off Nagle's algorithm, which holds back a small write
// while an earlier one is unacknowledged; with the client's delayed ACKs
// a request/reply exchange would then stall for 40 ms or more.
func setNoDelay(fd int) {
	sock.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
}
