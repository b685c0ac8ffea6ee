package server

import (
	"fmt"
	"io"
	"log"
	"net/netip"

	"fetchadd/fetchadd"
	"fetchadd/sock"
	"fetchadd/state"

	"golang.org/x/sys/unix"
)

// Listen opens the listening socket for cfg: socket, setsockopt, bind and
// listen. The server does not accept until Serve.
func Listen(cfg Config) (*Server, error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	cfg = withDefaults(cfg)
	if cfg.Mode == Uring {
		// Before listening: a kernel that refuses io_uring is said in
		// one line, and the port and the state file are not touched.
		if err := CheckUring(); err != nil {
			return nil, err
		}
	}
	logger := cfg.Log
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	s := &Server{cfg: cfg, logger: logger, conns: make(map[int]bool), budget: fetchadd.NewBudget(cfg.LineBudget),
		outBudget: newOutBudget(cfg.OutBudget)}
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

// setNoDelay turns off Nagle's algorithm, which holds back a small write
// while an earlier one is unacknowledged; with the client's delayed ACKs
// a request/reply exchange would then stall for 40 ms or more.
func setNoDelay(fd int) {
	sock.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
}
