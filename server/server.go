package server

import (
	"log"
	"net/netip"
	"sync"
	"sync/atomic"

	"fetchadd/fetchadd"
	"fetchadd/sock"
	"fetchadd/state"

	"golang.org/x/sys/unix"
)

// Server is a listening fetch-and-add server.
type Server struct {
	cfg     Config
	lfd     int // the listening socket
	addr    netip.AddrPort
	counter fetchadd.Counter
	logger  *log.Logger
	budget  *fetchadd.Budget // memory for unfinished lines, shared by all connections
	// outBudget is the memory for unsent replies, shared by all connections.
	outBudget *outBudget
	state     *state.Group // the counter's group commit; nil: the counter is not saved
	closeSt   func() int   // closes the store, saying how many commits it made
	stopping  atomic.Bool
	active    atomic.Int64 // connections being served

	mu     sync.Mutex   // guards conns, lfd and the stop pipe against close and reuse of numbers
	conns  map[int]bool // blocking modes: connections being served
	loops  []*loop      // poll and event modes
	closed bool         // Serve has returned and closed lfd and the stop pipe
	// The stop pipe: Stop writes a byte that nobody reads, so that its
	// read end stays readable and wakes every blocking-mode connection
	// waiting in poll for room to send.
	stopR, stopW int
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
