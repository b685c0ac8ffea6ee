package sock

import (
	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// The calls on a connection, in the order of the C listing: read and send
// (write for a pipe), shutdown and close; then fcntl, to make a
// descriptor non-blocking, and poll, to wait for one that is ready.

// Read reads what has arrived, up to len(p) bytes: read(2). n == 0 with a
// nil error is the end of the stream: the peer closed or shut down writing.
// On a non-blocking socket with nothing to read the error wraps EAGAIN.
func Read(fd int, p []byte) (n int, err error) {
	for {
		n, err = unix.Read(fd, p)
		if t := strace.Out; t != nil {
			t.Read(t.Tid(), fd, p, n, err)
		}
		if err != unix.EINTR {
			return count(n, wrap("read", err))
		}
	}
}

// Recv reads like Read, with recv(2)'s flags: unix.MSG_DONTWAIT returns
// EAGAIN instead of waiting, even on a blocking socket. It is the recvfrom
// system call with no address. With MSG_DONTWAIT the call cannot block,
// and is made without telling Go's scheduler on Linux and FreeBSD
// (rawwait); an event loop reads this way.
func Recv(fd int, p []byte, flags int) (n int, err error) {
	for {
		n, err = recv(fd, p, flags)
		if t := strace.Out; t != nil {
			t.Recv(t.Tid(), fd, p, flags, n, err)
		}
		if err != unix.EINTR {
			return count(n, wrap("recvfrom", err))
		}
	}
}

// Send sends what the socket buffer takes of p and returns how much that
// was: send(2). flags is send's: 0, or unix.MSG_DONTWAIT to return EAGAIN
// instead of waiting for room, even on a blocking socket. It never raises
// SIGPIPE: writing to a closed peer is an EPIPE error. On a non-blocking
// socket with a full buffer the error wraps EAGAIN. With MSG_DONTWAIT the
// call cannot block, and is made raw on Linux and FreeBSD (rawwait).
func Send(fd int, p []byte, flags int) (n int, err error) {
	for {
		n, err = send(fd, p, flags)
		if t := strace.Out; t != nil {
			t.Send(t.Tid(), sendCall(flags), fd, p, flags, n, err)
		}
		if err != unix.EINTR {
			return count(n, wrap(sendCall(flags), err))
		}
	}
}

// SendAll sends all of p, calling send again after a partial send, like
// Python's socket.sendall. It is for blocking sockets.
func SendAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := Send(fd, p, 0)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// Write writes p to a descriptor, a pipe or a socket: write(2). On a
// socket it is send with no flags (lecture/go/server writes its replies
// so, as server.c does); fetchadd's servers use Send, for its flags.
func Write(fd int, p []byte) (n int, err error) {
	for {
		n, err = unix.Write(fd, p)
		if t := strace.Out; t != nil {
			t.Write(t.Tid(), fd, p, n, err)
		}
		if err != unix.EINTR {
			return count(n, wrap("write", err))
		}
	}
}

// Shutdown closes one or both directions of a connection: shutdown(2).
// unix.SHUT_WR sends the peer an end of stream (FIN) while reading goes on.
func Shutdown(fd, how int) error {
	err := retry(func() error { return unix.Shutdown(fd, how) })
	if t := strace.Out; t != nil {
		t.Shutdown(t.Tid(), fd, how, err)
	}
	return wrap("shutdown", err)
}

// Close releases the descriptor: close(2). It is not retried on EINTR:
// the descriptor is released whatever close returns, and its number may
// already belong to a new socket of another thread.
func Close(fd int) error {
	err := unix.Close(fd)
	if t := strace.Out; t != nil {
		t.Close(t.Tid(), fd, err)
	}
	return wrap("close", err)
}

// SetNonblock makes I/O on fd return EAGAIN instead of waiting:
// fcntl(fd, F_SETFL, O_NONBLOCK), after fcntl(fd, F_GETFL) for the flags
// it keeps.
func SetNonblock(fd int) error {
	flags, err := fcntl(fd, unix.F_GETFL, 0)
	if err != nil || flags&unix.O_NONBLOCK != 0 {
		return err
	}
	_, err = fcntl(fd, unix.F_SETFL, flags|unix.O_NONBLOCK)
	return err
}

// fcntl is fcntl(2) with an int argument, or none (F_GETFL).
func fcntl(fd, cmd, arg int) (int, error) {
	v, err := unix.FcntlInt(uintptr(fd), cmd, arg)
	if t := strace.Out; t != nil {
		t.Fcntl(t.Tid(), fd, cmd, arg, v, err)
	}
	return v, wrap("fcntl", err)
}

// Poll waits until one of fds is ready or timeout milliseconds pass (-1:
// no limit): poll(2) (ppoll on Linux). An interrupted poll returns 0 and no
// error: callers loop over Poll anyway, and a poll that is restarted by hand
// would wait longer than its timeout.
func Poll(fds []unix.PollFd, timeout int) (int, error) {
	n, left, err := poll(fds, timeout)
	if t := strace.Out; t != nil {
		t.Poll(t.Tid(), pollCall, fds, timeout, n, left, err)
	}
	if err == unix.EINTR {
		return 0, nil
	}
	return n, wrap(pollCall, err)
}
