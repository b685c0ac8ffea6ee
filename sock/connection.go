package sock

import (
	"time"

	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// The calls that make a connection, in the order of the C listing: the
// server's socket, setsockopt, bind, listen and accept; the client's
// connect; getsockname, to ask which port bind chose.

// Socket creates an endpoint for communication and returns its descriptor:
// socket(2), close-on-exec (SOCK_CLOEXEC on Linux and FreeBSD; on macOS
// fcntl(FD_CLOEXEC), then setsockopt(SO_NOSIGPIPE)).
func Socket(domain, typ, proto int) (int, error) {
	typ |= socketFlags
	fd, err := socket(domain, typ, proto)
	if t := strace.Out; t != nil {
		t.Socket(t.Tid(), domain, typ, proto, fd, err)
	}
	if err != nil {
		return -1, wrap("socket", err)
	}
	if err := socketStandIns(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// SetsockoptInt sets an integer socket option: setsockopt(2).
func SetsockoptInt(fd, level, opt, value int) error {
	err := retry(func() error { return unix.SetsockoptInt(fd, level, opt, value) })
	if t := strace.Out; t != nil {
		t.Setsockopt(t.Tid(), fd, level, opt, value, err)
	}
	return wrap("setsockopt", err)
}

// SetsockoptTimeval sets a time socket option, such as SO_RCVTIMEO:
// setsockopt(2) with a struct timeval.
func SetsockoptTimeval(fd, level, opt int, tv *unix.Timeval) error {
	err := retry(func() error { return unix.SetsockoptTimeval(fd, level, opt, tv) })
	if t := strace.Out; t != nil {
		t.SetsockoptTimeval(t.Tid(), fd, level, opt, tv, err)
	}
	return wrap("setsockopt", err)
}

// GetsockoptInt reads an integer socket option: getsockopt(2).
func GetsockoptInt(fd, level, opt int) (int, error) {
	var v int
	err := retry(func() (err error) { v, err = unix.GetsockoptInt(fd, level, opt); return })
	if t := strace.Out; t != nil {
		t.Getsockopt(t.Tid(), fd, level, opt, v, err)
	}
	return v, wrap("getsockopt", err)
}

// Bind gives the socket its local address: bind(2).
func Bind(fd int, sa unix.Sockaddr) error {
	err := retry(func() error { return unix.Bind(fd, sa) })
	if t := strace.Out; t != nil {
		t.Bind(t.Tid(), fd, sa, err)
	}
	return wrap("bind", err)
}

// Listen makes the socket a listening one; the kernel completes up to
// backlog handshakes that no accept has taken yet: listen(2).
func Listen(fd, backlog int) error {
	err := retry(func() error { return unix.Listen(fd, backlog) })
	if t := strace.Out; t != nil {
		t.Listen(t.Tid(), fd, backlog, err)
	}
	return wrap("listen", err)
}

// Accept takes the next completed connection from the listening socket's
// backlog, waiting for one if there is none and fd is blocking, and returns
// its descriptor and the peer's address: accept4(2) with SOCK_CLOEXEC, and
// SOCK_NONBLOCK if nonblock is set, on Linux and FreeBSD; on macOS
// accept(2), then fcntl(FD_CLOEXEC), setsockopt(SO_NOSIGPIPE) and, if
// nonblock is set, fcntl(O_NONBLOCK).
func Accept(fd int, nonblock bool) (int, unix.Sockaddr, error) {
	var peer peerAddr
	for {
		nfd, err := acceptSyscall(fd, nonblock, &peer)
		if t := strace.Out; t != nil {
			t.Accept(t.Tid(), acceptCall, fd, peer.traced(nonblock), nfd, err)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, nil, wrap(acceptCall, err)
		}
		if err := acceptStandIns(nfd, nonblock); err != nil {
			unix.Close(nfd)
			return -1, nil, err
		}
		return nfd, peer.sockaddr(), nil
	}
}

// acceptSyscall is the system call behind Accept; a test replaces it to
// make accept fail with EINTR, as a signal seldom does on demand.
var acceptSyscall = accept

// Connect connects the socket to sa: connect(2). If the call is
// interrupted, or fd is non-blocking, the handshake goes on in the kernel;
// Connect then waits until the socket is writable and returns SO_ERROR, the
// handshake's outcome, since a second connect would only say EALREADY.
func Connect(fd int, sa unix.Sockaddr) error { return connect(fd, sa, -1) }

// ConnectWithin is Connect, on a non-blocking socket, giving up after
// timeout with ETIMEDOUT: a server whose listen backlog is full drops the
// handshake, and the kernel would try again for minutes.
func ConnectWithin(fd int, sa unix.Sockaddr, timeout time.Duration) error {
	return connect(fd, sa, timeout)
}

// connect is connect(2), then, if the handshake goes on in the kernel,
// the wait for it: for timeout from then, or with no limit if timeout
// is negative.
func connect(fd int, sa unix.Sockaddr, timeout time.Duration) error {
	err := unix.Connect(fd, sa)
	if t := strace.Out; t != nil {
		t.Connect(t.Tid(), fd, sa, err)
	}
	if err == unix.EINTR || err == unix.EINPROGRESS {
		var deadline time.Time
		if timeout >= 0 {
			deadline = time.Now().Add(timeout)
		}
		return awaitConnect(fd, deadline)
	}
	return wrap("connect", err)
}

// awaitConnect waits for a connect in progress, until deadline if it is
// not zero, and returns its outcome.
func awaitConnect(fd int, deadline time.Time) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		wait := -1
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return wrap("connect", unix.ETIMEDOUT)
			}
			wait = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := Poll(fds, wait)
		if err != nil {
			return err
		}
		if n > 0 {
			break
		}
	}
	soerr, err := GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if soerr != 0 {
		return wrap("connect", unix.Errno(soerr))
	}
	return nil
}

// Getsockname returns the socket's local address: getsockname(2). After
// binding port 0 it tells which port the kernel chose.
func Getsockname(fd int) (unix.Sockaddr, error) {
	var sa unix.Sockaddr
	err := retry(func() (err error) { sa, err = unix.Getsockname(fd); return })
	if t := strace.Out; t != nil {
		t.Getsockname(t.Tid(), fd, sa, err)
	}
	return sa, wrap("getsockname", err)
}
