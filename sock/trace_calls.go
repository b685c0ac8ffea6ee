package sock

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The trace line of each call, as strace prints it, in the order of the
// C listing: the wrappers call these only when tracing is on. (accept's
// line, and what send passes after the length, differ between the
// systems: trace_accept4.go, trace_darwin.go; so do poll's and the
// pollers': trace_linux.go, trace_bsd.go.)

// socket traces socket: the domain, the type with its flags, the protocol.
func (t *traceWriter) socket(tid, domain, typ, proto, fd int, err error) {
	t.trace(tid, "socket", fd, err, fmt.Sprintf("%s, %s, %s", name(domain, domainNames), typeString(typ), protoString(domain, proto)))
}

// setsockopt traces setsockopt with an int value, and its size.
func (t *traceWriter) setsockopt(tid, fd, level, opt, value int, err error) {
	t.trace(tid, "setsockopt", 0, err, fmt.Sprintf("%s, [%d], 4", sockopt(fd, level, opt), value))
}

// setsockoptTimeval traces setsockopt with a struct timeval: strace shows
// its bytes, as for an option it does not decode.
func (t *traceWriter) setsockoptTimeval(tid, fd, level, opt int, tv *unix.Timeval, err error) {
	raw := unsafe.Slice((*byte)(unsafe.Pointer(tv)), unsafe.Sizeof(*tv))
	t.trace(tid, "setsockopt", 0, err, fmt.Sprintf("%s, %s, %d", sockopt(fd, level, opt), t.quote(raw), len(raw)))
}

// getsockopt traces getsockopt of an int: the value and size it read.
func (t *traceWriter) getsockopt(tid, fd, level, opt, value int, err error) {
	t.trace(tid, "getsockopt", 0, err, fmt.Sprintf("%s, [%d], [4]", sockopt(fd, level, opt), value))
}

// sockopt is an option call's first arguments: "3, SOL_SOCKET, SO_REUSEADDR".
func sockopt(fd, level, opt int) string {
	return fmt.Sprintf("%d, %s, %s", fd, name(level, levelNames), name(opt, optNames[level]))
}

// bind traces bind: the address given, and its length.
func (t *traceWriter) bind(tid, fd int, sa unix.Sockaddr, err error) {
	t.addrIn(tid, "bind", fd, sa, err)
}

// listen traces listen.
func (t *traceWriter) listen(tid, fd, backlog int, err error) {
	t.trace(tid, "listen", 0, err, fmt.Sprintf("%d, %d", fd, backlog))
}

// connect traces connect: the address given, and its length.
func (t *traceWriter) connect(tid, fd int, sa unix.Sockaddr, err error) {
	t.addrIn(tid, "connect", fd, sa, err)
}

// addrIn traces a call that passes an address in: bind, connect.
func (t *traceWriter) addrIn(tid int, call string, fd int, sa unix.Sockaddr, err error) {
	addr, n := sockaddrString(sa)
	t.trace(tid, call, 0, err, fmt.Sprintf("%d, %s, %d", fd, addr, n))
}

// getsockname traces getsockname: the address the kernel filled in.
func (t *traceWriter) getsockname(tid, fd int, sa unix.Sockaddr, err error) {
	t.trace(tid, "getsockname", 0, err, fmt.Sprintf("%d, %s", fd, addrOut(sa)))
}

// read traces read: the bytes read, or the buffer's address if it failed,
// and the count asked for.
func (t *traceWriter) read(tid int, fd int, p []byte, n int, err error) {
	buf := fmt.Sprintf("%p", unsafe.SliceData(p))
	if err == nil {
		buf = t.quote(p[:n])
	}
	t.trace(tid, "read", n, err, fmt.Sprintf("%d, %s, %d", fd, buf, len(p)))
}

// recv traces recv as recvfrom, the system call behind it, with no
// address.
func (t *traceWriter) recv(tid int, fd int, p []byte, flags, n int, err error) {
	buf := fmt.Sprintf("%p", unsafe.SliceData(p))
	if err == nil {
		buf = t.quote(p[:n])
	}
	t.trace(tid, "recvfrom", n, err, fmt.Sprintf("%d, %s, %d, %s, NULL, NULL", fd, buf, len(p), flagNames(flags, msgNames)))
}

// send traces send as the system makes it (sendto, or write or sendmsg
// on macOS), with the arguments after the length.
func (t *traceWriter) send(tid, fd int, p []byte, flags, n int, err error) {
	t.write(tid, sendCall(flags), fd, p, n, err, sendArgs(flags))
}

// write traces write or send: the bytes given, their count, and the
// arguments after it (send's flags).
func (t *traceWriter) write(tid int, call string, fd int, p []byte, n int, err error, extra string) {
	t.trace(tid, call, n, err, fmt.Sprintf("%d, %s, %d%s", fd, t.quote(p), len(p), extra))
}

// shutdown traces shutdown.
func (t *traceWriter) shutdown(tid, fd, how int, err error) {
	t.trace(tid, "shutdown", 0, err, fmt.Sprintf("%d, %s", fd, name(how, howNames)))
}

// close traces close.
func (t *traceWriter) close(tid, fd int, err error) {
	t.trace(tid, "close", 0, err, fmt.Sprint(fd))
}

// fcntl traces the two commands SetNonblock uses: F_GETFL, with the
// flags it returns, and F_SETFL, with the flags it sets.
func (t *traceWriter) fcntl(tid, fd, cmd, arg, ret int, err error) {
	if cmd == unix.F_GETFL {
		res := result(ret, err)
		if err == nil {
			res = fmt.Sprintf("%#x (flags %s)", ret, flagNames(ret, openNames))
		}
		t.traceResult(tid, "fcntl", fmt.Sprintf("%d, F_GETFL", fd), res)
		return
	}
	t.trace(tid, "fcntl", 0, err, fmt.Sprintf("%d, F_SETFL, %s", fd, flagNames(arg, openNames)))
}

// poll traces poll or ppoll as strace does: the pollfds given, and after
// the result the ones that came back with events and the time left
// (ppoll), or "(Timeout)".
func (t *traceWriter) poll(tid int, fds []unix.PollFd, timeout, n int, left *unix.Timespec, err error) {
	args := pollArgs(pollfdsString(fds, false), len(fds), timeout)
	switch {
	case err != nil:
		t.trace(tid, pollCall, n, err, args)
	case n == 0:
		t.traceResult(tid, pollCall, args, "0 (Timeout)")
	case left != nil:
		t.traceResult(tid, pollCall, args, fmt.Sprintf("%d (%s, left {tv_sec=%d, tv_nsec=%d})", n, pollfdsString(fds, true), left.Sec, left.Nsec))
	default:
		t.traceResult(tid, pollCall, args, fmt.Sprintf("%d (%s)", n, pollfdsString(fds, true)))
	}
}

// pipe traces pipe or pipe2: the two descriptors, and pipe2's flags.
func (t *traceWriter) pipe(tid int, p [2]int, err error) {
	t.trace(tid, pipeCall, 0, err, fmt.Sprintf("[%d, %d]%s", p[0], p[1], pipeArgs))
}
