// Package client is the other end of the lab: the terminal program's
// prompt and replies, with the counter on a server.
package client

import (
	"errors"
	"fmt"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// Dial connects to addr ("HOST[:PORT]", port fetchadd.DefaultPort if left
// out), trying each of the host's addresses in turn, IPv6 and IPv4, until
// one accepts, as Python's socket.create_connection does. The socket has
// TCP_NODELAY set.
func Dial(addr string) (int, error) {
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
		fd, err := connect(sock.Sockaddr(ip, port), sock.Domain(ip))
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

// connect is socket, then connect: a new connection to sa.
func connect(sa unix.Sockaddr, domain int) (int, error) {
	fd, err := sock.Socket(domain, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, err
	}
	if err := sock.Connect(fd, sa); err != nil {
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
