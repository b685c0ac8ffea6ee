// Package server runs the fetch-and-add service over TCP: it listens with
// socket, setsockopt, bind and listen, then serves in one of its modes,
// every mode speaking the same protocol (fetchadd.Session) and sharing one
// counter for the server's whole life.
package server

import (
	"fmt"
	"io"
	"log"
	"net/netip"
	"sync"
	"sync/atomic"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// DefaultPort is the port of the echo server in the Python documentation's
// socket example, which the lab starts from.
const DefaultPort = 50007

// DefaultAddr is where the server listens unless told otherwise: loopback
// only, so a lab machine does not serve its whole network by surprise.
const DefaultAddr = "127.0.0.1:50007"

// Backlog is listen's backlog: how many connections the kernel completes
// (three-way handshake and all) before an accept takes them. Linux caps it
// at net.core.somaxconn.
const Backlog = 4096

// readSize is how much one read asks for.
const readSize = 4096

// outLimit bounds the replies a connection has built and not yet sent: a
// server sends them (or, in an event loop, stops reading) before it
// answers more lines.
const outLimit = 64 << 10

// Config says where and how to serve.
type Config struct {
	Addr netip.AddrPort // where to listen (see ResolveAddr); port 0: any free port
	Log  *log.Logger    // where connections are logged; nil: nowhere
}

// ResolveAddr reads a listening address, "HOST:PORT" or "HOST" (port
// DefaultPort). HOST may be a name, which resolves to its first IPv4
// address if it has one, or an empty string, meaning 0.0.0.0.
func ResolveAddr(addr string) (netip.AddrPort, error) {
	host, port, err := sock.SplitHostPort(addr, DefaultPort)
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
	stopping atomic.Bool

	mu   sync.Mutex // guards conn against close and reuse of its number
	conn int        // the connection being served, or -1
}

// Listen opens the listening socket for cfg: socket, setsockopt, bind and
// listen. The server does not accept until Serve.
func Listen(cfg Config) (*Server, error) {
	fd, addr, err := openListener(cfg.Addr)
	if err != nil {
		return nil, err
	}
	logger := cfg.Log
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	return &Server{cfg: cfg, lfd: fd, addr: addr, logger: logger, conn: -1}, nil
}

// openListener makes a listening TCP socket bound to addr and returns it
// with the address it got (the port the kernel chose, if addr's is 0).
func openListener(addr netip.AddrPort) (int, netip.AddrPort, error) {
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
		err = sock.Listen(fd, Backlog)
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

// Counter is the server's counter, shared by all its connections.
func (s *Server) Counter() *fetchadd.Counter { return &s.counter }

// Serve accepts and serves connections until Stop, then closes the
// listening socket. It returns nil after Stop, or the error that ended it.
func (s *Server) Serve() error {
	defer sock.Close(s.lfd)
	return s.serveIterative()
}

// Stop makes Serve return: it stops accepting, lets the connection being
// served answer what it has received, and closes it.
func (s *Server) Stop() {
	s.stopping.Store(true)
	// On Linux, shutdown on a listening socket wakes a blocked accept,
	// which then fails with EINVAL. Elsewhere it may not, and the process
	// ends without waiting for accept to return.
	sock.Shutdown(s.lfd, unix.SHUT_RDWR)
	s.mu.Lock()
	if s.conn >= 0 {
		// The blocked read returns 0, as if the client had half-closed.
		sock.Shutdown(s.conn, unix.SHUT_RD)
	}
	s.mu.Unlock()
}
