// Package sock is a thin layer over the Berkeley sockets system calls, one
// function per call, named after it, so that each line of a server reads
// like the C listing beside it:
//
//	C                          Go (this package)
//	socket(AF_INET, ...)       sock.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
//	setsockopt(...)            sock.SetsockoptInt(fd, level, opt, value)
//	bind(fd, &addr, len)       sock.Bind(fd, sa)
//	listen(fd, backlog)        sock.Listen(fd, backlog)
//	accept(fd, &addr, &len)    sock.Accept(fd, false)
//	connect(fd, &addr, len)    sock.Connect(fd, sa)
//	read(fd, buf, n)           sock.Read(fd, buf)
//	send(fd, buf, n, flags)    sock.Send(fd, buf), sock.SendAll(fd, buf)
//	shutdown(fd, how)          sock.Shutdown(fd, how)
//	close(fd)                  sock.Close(fd)
//
// Every function makes the one system call its name says (and, where an OS
// lacks a flag, the fcntl or setsockopt that stands in for it). What C code
// leaves to the caller is done here, once:
//
//   - An error names the call that failed, as "bind: address already in
//     use" (os.NewSyscallError), so callers can add what they were doing.
//   - EINTR is retried. The Go runtime sends its threads signals (SIGURG for
//     preemption) and a blocking call can come back interrupted. close is
//     the exception: the descriptor is gone even when close says EINTR.
//   - An interrupted connect is never issued again: the kernel goes on with
//     the handshake, and Connect waits for it and reads SO_ERROR.
//   - Descriptors are close-on-exec, and writing to a peer that has gone
//     returns EPIPE instead of raising SIGPIPE (MSG_NOSIGNAL on Linux and
//     FreeBSD, SO_NOSIGPIPE on macOS).
//
// Descriptors are plain ints, as in C. Nothing here uses package net.
package sock

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wrap names the call in err, as os.NewSyscallError does; nil stays nil.
func wrap(call string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(call, err)
}

// SetsockoptInt sets an integer socket option: setsockopt(2).
func SetsockoptInt(fd, level, opt, value int) error {
	err := retry(func() error { return unix.SetsockoptInt(fd, level, opt, value) })
	if tracer != nil {
		tracer.trace(tracer.tid(), "setsockopt", 0, err, fmt.Sprintf("%d, %s, %s, [%d], 4", fd, name(level, levelNames), name(opt, optNames[level]), value))
	}
	return wrap("setsockopt", err)
}

// SetsockoptTimeval sets a time socket option, such as SO_RCVTIMEO:
// setsockopt(2) with a struct timeval.
func SetsockoptTimeval(fd, level, opt int, tv *unix.Timeval) error {
	err := retry(func() error { return unix.SetsockoptTimeval(fd, level, opt, tv) })
	if tracer != nil {
		// strace shows the struct's bytes, as for an option it cannot decode.
		raw := unsafe.Slice((*byte)(unsafe.Pointer(tv)), unsafe.Sizeof(*tv))
		tracer.trace(tracer.tid(), "setsockopt", 0, err, fmt.Sprintf("%d, %s, %s, %s, %d", fd, name(level, levelNames), name(opt, optNames[level]), tracer.quote(raw), len(raw)))
	}
	return wrap("setsockopt", err)
}

// GetsockoptInt reads an integer socket option: getsockopt(2).
func GetsockoptInt(fd, level, opt int) (int, error) {
	var v int
	err := retry(func() (err error) { v, err = unix.GetsockoptInt(fd, level, opt); return })
	if tracer != nil {
		tracer.trace(tracer.tid(), "getsockopt", 0, err, fmt.Sprintf("%d, %s, %s, [%d], [4]", fd, name(level, levelNames), name(opt, optNames[level]), v))
	}
	return v, wrap("getsockopt", err)
}

// Bind gives the socket its local address: bind(2).
func Bind(fd int, sa unix.Sockaddr) error {
	err := retry(func() error { return unix.Bind(fd, sa) })
	if tracer != nil {
		addr, n := sockaddrString(sa)
		tracer.trace(tracer.tid(), "bind", 0, err, fmt.Sprintf("%d, %s, %d", fd, addr, n))
	}
	return wrap("bind", err)
}

// Listen makes the socket a listening one; the kernel completes up to
// backlog handshakes that no accept has taken yet: listen(2).
func Listen(fd, backlog int) error {
	err := retry(func() error { return unix.Listen(fd, backlog) })
	if tracer != nil {
		tracer.trace(tracer.tid(), "listen", 0, err, fmt.Sprintf("%d, %d", fd, backlog))
	}
	return wrap("listen", err)
}

// Connect connects the socket to sa: connect(2). If the call is
// interrupted, or fd is non-blocking, the handshake goes on in the kernel;
// Connect then waits until the socket is writable and returns SO_ERROR, the
// handshake's outcome, since a second connect would only say EALREADY.
func Connect(fd int, sa unix.Sockaddr) error {
	err := unix.Connect(fd, sa)
	if tracer != nil {
		addr, n := sockaddrString(sa)
		tracer.trace(tracer.tid(), "connect", 0, err, fmt.Sprintf("%d, %s, %d", fd, addr, n))
	}
	if err == unix.EINTR || err == unix.EINPROGRESS {
		return awaitConnect(fd)
	}
	return wrap("connect", err)
}

// awaitConnect waits for a connect in progress and returns its outcome.
func awaitConnect(fd int) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		n, err := Poll(fds, -1)
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

// Read reads what has arrived, up to len(p) bytes: read(2). n == 0 with a
// nil error is the end of the stream: the peer closed or shut down writing.
// On a non-blocking socket with nothing to read the error wraps EAGAIN.
func Read(fd int, p []byte) (n int, err error) {
	return transfer("read", "", unix.Read, fd, p)
}

// Send sends what the socket buffer takes of p and returns how much that
// was: send(2). It never raises SIGPIPE: writing to a closed peer is an
// EPIPE error. On a non-blocking socket with a full buffer the error wraps
// EAGAIN.
func Send(fd int, p []byte) (n int, err error) {
	return transfer(sendCall, sendArgs, send, fd, p)
}

// Write writes p to a descriptor that is not a socket, such as a pipe:
// write(2). (Send is for sockets.)
func Write(fd int, p []byte) (n int, err error) {
	return transfer("write", "", unix.Write, fd, p)
}

// transfer makes the read or write call fn, again after EINTR, tracing
// each try. x/sys returns n == -1 with an error: it becomes 0.
func transfer(call, extraArgs string, fn func(int, []byte) (int, error), fd int, p []byte) (n int, err error) {
	for {
		n, err = fn(fd, p)
		if tracer != nil {
			tracer.traceIO(tracer.tid(), call, fd, p, n, err, extraArgs)
		}
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return 0, wrap(call, err)
	}
	return n, nil
}

// SendAll sends all of p, calling send again after a partial send, like
// Python's socket.sendall. It is for blocking sockets.
func SendAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := Send(fd, p)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// Shutdown closes one or both directions of a connection: shutdown(2).
// unix.SHUT_WR sends the peer an end of stream (FIN) while reading goes on.
func Shutdown(fd, how int) error {
	err := retry(func() error { return unix.Shutdown(fd, how) })
	if tracer != nil {
		tracer.trace(tracer.tid(), "shutdown", 0, err, fmt.Sprintf("%d, %s", fd, name(how, howNames)))
	}
	return wrap("shutdown", err)
}

// Close releases the descriptor: close(2). It is not retried on EINTR:
// the descriptor is released whatever close returns, and its number may
// already belong to a new socket of another thread.
func Close(fd int) error {
	err := unix.Close(fd)
	if tracer != nil {
		tracer.trace(tracer.tid(), "close", 0, err, fmt.Sprint(fd))
	}
	return wrap("close", err)
}

// Getsockname returns the socket's local address: getsockname(2). After
// binding port 0 it tells which port the kernel chose.
func Getsockname(fd int) (unix.Sockaddr, error) {
	var sa unix.Sockaddr
	err := retry(func() (err error) { sa, err = unix.Getsockname(fd); return })
	if tracer != nil {
		tracer.trace(tracer.tid(), "getsockname", 0, err, fmt.Sprintf("%d, %s", fd, addrOut(sa)))
	}
	return sa, wrap("getsockname", err)
}

// Getpeername returns the address of the connected peer: getpeername(2).
func Getpeername(fd int) (unix.Sockaddr, error) {
	var sa unix.Sockaddr
	err := retry(func() (err error) { sa, err = unix.Getpeername(fd); return })
	if tracer != nil {
		tracer.trace(tracer.tid(), "getpeername", 0, err, fmt.Sprintf("%d, %s", fd, addrOut(sa)))
	}
	return sa, wrap("getpeername", err)
}

// SetNonblock makes I/O on fd return EAGAIN instead of waiting:
// fcntl(fd, F_SETFL, O_NONBLOCK).
func SetNonblock(fd int) error {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if tracer != nil {
		res := result(flags, err)
		if err == nil {
			res = fmt.Sprintf("%#x (flags %s)", flags, flagNames(flags, openNames))
		}
		tracer.traceResult(tracer.tid(), "fcntl", fmt.Sprintf("%d, F_GETFL", fd), res)
	}
	if err != nil || flags&unix.O_NONBLOCK != 0 {
		return wrap("fcntl", err)
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_NONBLOCK)
	if tracer != nil {
		tracer.trace(tracer.tid(), "fcntl", 0, err, fmt.Sprintf("%d, F_SETFL, %s", fd, flagNames(flags|unix.O_NONBLOCK, openNames)))
	}
	return wrap("fcntl", err)
}

// Poll waits until one of fds is ready or timeout milliseconds pass (-1:
// no limit): poll(2) (ppoll on Linux). An interrupted poll returns 0 and no
// error: callers loop over Poll anyway, and a poll that is restarted by hand
// would wait longer than its timeout.
func Poll(fds []unix.PollFd, timeout int) (int, error) {
	var in string
	if tracer != nil {
		in = pollfdsString(fds, false)
	}
	n, err := unix.Poll(fds, timeout)
	if tracer != nil {
		tracer.tracePoll(tracer.tid(), in, fds, timeout, n, err)
	}
	if err == unix.EINTR {
		return 0, nil
	}
	return n, wrap(pollCall, err)
}

// traceIO traces read, write or send: the bytes (those read, or all those
// given to write), the count asked for, and extra arguments after it.
func (t *traceWriter) traceIO(tid int, call string, fd int, p []byte, n int, err error, extra string) {
	var buf string
	switch {
	case call == "read" && err == nil:
		buf = t.quote(p[:n])
	case call == "read":
		buf = fmt.Sprintf("%p", unsafe.SliceData(p))
	default:
		buf = t.quote(p)
	}
	t.trace(tid, call, n, err, fmt.Sprintf("%d, %s, %d%s", fd, buf, len(p), extra))
}

// addrOut is an address the kernel filled in, with its length:
// "{sa_family=AF_INET, ...}, [112 => 16]".
func addrOut(sa unix.Sockaddr) string {
	addr, n := sockaddrString(sa)
	return fmt.Sprintf("%s, [%d => %d]", addr, unix.SizeofSockaddrAny, n)
}

// retry calls f until it does not fail with EINTR, as Go's internal/poll
// does for the calls that may be interrupted.
func retry(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}
