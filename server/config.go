package server

import (
	"fmt"
	"log"
	"net/netip"
	"runtime"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/sock"
	"fetchadd/state"
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

// readSize is how much one read asks for in the blocking modes, and one
// receive in the uring mode (uringBufSize); the poll and event loops read
// up to loopReadSize at a time into one buffer per loop.
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
	// OutBudget bounds the bytes all connections together hold for
	// replies their clients have not read, and the requests those hold
	// back (see outBudget); 0: DefaultOutBudget.
	OutBudget int
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
	if cfg.OutBudget < 0 {
		return fmt.Errorf("-out-budget %d: want a number of bytes (0: %d)", cfg.OutBudget, DefaultOutBudget)
	}
	if cfg.Backlog < 0 {
		return fmt.Errorf("-backlog %d: want 1 or more (0: %d)", cfg.Backlog, Backlog)
	}
	if cfg.Mode == Threaded && cfg.MaxConns > MaxThreads {
		return fmt.Errorf("-max-conns %d: the threaded mode holds a thread per connection; at most %d", cfg.MaxConns, MaxThreads)
	}
	return nil
}

// withDefaults is cfg with each limit left 0 given its default: the
// mode's connection limit, a loop per CPU (the poll mode has one), the
// backlog and the budgets; an empty mode is the iterative one.
func withDefaults(cfg Config) Config {
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
	if cfg.Backlog == 0 {
		cfg.Backlog = Backlog
	}
	if cfg.LineBudget == 0 {
		cfg.LineBudget = fetchadd.DefaultLineBudget
	}
	if cfg.OutBudget == 0 {
		cfg.OutBudget = DefaultOutBudget
	}
	return cfg
}
