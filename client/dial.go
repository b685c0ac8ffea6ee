// Package client is the other end of the lab: the terminal program's
// prompt and replies, with the counter on a server.
package client

import (
	"errors"
	"fmt"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// Dial connects to addr ("HOST[:PORT]", port fetchadd.DefaultPort if left
// out), trying each of the host's addresses in turn, IPv6 and IPv4, until
// one accepts, as Python's socket.create_connection does. The socket has
// TCP_NODELAY set.
func Dial(addr string) (int, error) { return dial(addr, 0) }

// DialWithin is Dial for a load generator, which must end when it said:
// each address has timeout to accept (a server whose listen backlog is
// full drops the handshake, and a blocking connect would wait for
// minutes), and the socket it returns is non-blocking.
func DialWithin(addr string, timeout time.Duration) (int, error) { return dial(addr, timeout) }

// dial is Dial, with each connect given timeout if it is not 0.
func dial(addr string, timeout time.Duration) (int, error) {
	host, port, err := sock.SplitHostPort(addr, fetchadd.DefaultPort)
	if err != nil {
		return -1, err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ips, err := resolve(host)
	if err != nil {
		return -1, fmt.Errorf("connect to %s: %w", addr, err)
	}
	var errs []error
	for _, ip := range ips {
		fd, err := connect(sock.Sockaddr(ip, port), sock.Domain(ip), timeout)
		if err == nil {
			return fd, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", ip, err))
	}
	if len(errs) == 1 {
		return -1, fmt.Errorf("connect to %s: %w", addr, errors.Unwrap(errs[0]))
	}
	return -1, fmt.Errorf("connect to %s: %w", addr, errors.Join(errs...))
}

// resolve is sock.Resolve; a test makes a name resolve to addresses of
// its choosing, a dead one first.
var resolve = sock.Resolve

// connect is socket, then connect: a new connection to sa, within
// timeout if it is not 0 (then non-blocking).
func connect(sa unix.Sockaddr, domain int, timeout time.Duration) (int, error) {
	fd, err := sock.Socket(domain, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, err
	}
	if timeout > 0 {
		err = sock.SetNonblock(fd)
		if err == nil {
			err = sock.ConnectWithin(fd, sa, timeout)
		}
	} else {
		err = sock.Connect(fd, sa)
	}
	if err != nil {
		sock.Close(fd)
		return -1, err
	}
	// A request/reply protocol: send each request at once (see Nagle).
	if err := sock.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		sock.Close(fd)
		return -1, err
	}
	return fd, nil
}
