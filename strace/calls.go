package strace

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The trace line of each of package sock's calls, as strace prints it, in
// the order of the C listing: sock's wrappers call these only when
// tracing is on. Where the systems make different calls, sock passes the
// call's name (accept4 or accept, ppoll or poll, ...). (accept's line,
// and what send passes after the length, differ between the systems:
// calls_accept4.go, calls_darwin.go; so do poll's and the readiness
// calls': calls_linux.go, calls_bsd.go.)

// Socket traces socket: the domain, the type with its flags, the protocol.
func (t *Tracer) Socket(tid, domain, typ, proto, fd int, err error) {
	t.Call(tid, "socket", fd, err, fmt.Sprintf("%s, %s, %s", name(domain, domainNames), typeString(typ), protoString(domain, proto)))
}

// Setsockopt traces setsockopt with an int value, and its size.
func (t *Tracer) Setsockopt(tid, fd, level, opt, value int, err error) {
	t.Call(tid, "setsockopt", 0, err, fmt.Sprintf("%s, [%d], 4", sockopt(fd, level, opt), value))
}

// SetsockoptTimeval traces setsockopt with a struct timeval: strace shows
// its bytes, as for an option it does not decode.
func (t *Tracer) SetsockoptTimeval(tid, fd, level, opt int, tv *unix.Timeval, err error) {
	raw := unsafe.Slice((*byte)(unsafe.Pointer(tv)), unsafe.Sizeof(*tv))
	t.Call(tid, "setsockopt", 0, err, fmt.Sprintf("%s, %s, %d", sockopt(fd, level, opt), t.Quote(raw), len(raw)))
}

// Getsockopt traces getsockopt of an int: the value and size it read.
func (t *Tracer) Getsockopt(tid, fd, level, opt, value int, err error) {
	t.Call(tid, "getsockopt", 0, err, fmt.Sprintf("%s, [%d], [4]", sockopt(fd, level, opt), value))
}

// sockopt is an option call's first arguments: "3, SOL_SOCKET, SO_REUSEADDR".
func sockopt(fd, level, opt int) string {
	return fmt.Sprintf("%d, %s, %s", fd, name(level, levelNames), name(opt, optNames[level]))
}

// Bind traces bind: the address given, and its length.
func (t *Tracer) Bind(tid, fd int, sa unix.Sockaddr, err error) {
	t.addrIn(tid, "bind", fd, sa, err)
}

// Listen traces listen.
func (t *Tracer) Listen(tid, fd, backlog int, err error) {
	t.Call(tid, "listen", 0, err, fmt.Sprintf("%d, %d", fd, backlog))
}

// Connect traces connect: the address given, and its length.
func (t *Tracer) Connect(tid, fd int, sa unix.Sockaddr, err error) {
	t.addrIn(tid, "connect", fd, sa, err)
}

// addrIn traces a call that passes an address in: bind, connect.
func (t *Tracer) addrIn(tid int, call string, fd int, sa unix.Sockaddr, err error) {
	addr, n := sockaddrString(sa)
	t.Call(tid, call, 0, err, fmt.Sprintf("%d, %s, %d", fd, addr, n))
}

// Getsockname traces getsockname: the address the kernel filled in.
func (t *Tracer) Getsockname(tid, fd int, sa unix.Sockaddr, err error) {
	t.Call(tid, "getsockname", 0, err, fmt.Sprintf("%d, %s", fd, addrOut(sa)))
}

// Read traces read: the bytes read, or the buffer's address if it failed,
// and the count asked for.
func (t *Tracer) Read(tid int, fd int, p []byte, n int, err error) {
	buf := fmt.Sprintf("%p", unsafe.SliceData(p))
	if err == nil {
		buf = t.Quote(p[:n])
	}
	t.Call(tid, "read", n, err, fmt.Sprintf("%d, %s, %d", fd, buf, len(p)))
}

// Recv traces recv as recvfrom, the system call behind it, with no
// address.
func (t *Tracer) Recv(tid int, fd int, p []byte, flags, n int, err error) {
	buf := fmt.Sprintf("%p", unsafe.SliceData(p))
	if err == nil {
		buf = t.Quote(p[:n])
	}
	t.Call(tid, "recvfrom", n, err, fmt.Sprintf("%d, %s, %d, %s, NULL, NULL", fd, buf, len(p), Flags(flags, msgNames)))
}

// Send traces send as the system makes it (call: sendto, or write or
// sendmsg on macOS), with the arguments after the length.
func (t *Tracer) Send(tid int, call string, fd int, p []byte, flags, n int, err error) {
	t.bytesOut(tid, call, fd, p, n, err, sendArgs(flags))
}

// Write traces write.
func (t *Tracer) Write(tid, fd int, p []byte, n int, err error) {
	t.bytesOut(tid, "write", fd, p, n, err, "")
}

// bytesOut traces write or send: the bytes given, their count, and the
// arguments after it (send's flags).
func (t *Tracer) bytesOut(tid int, call string, fd int, p []byte, n int, err error, extra string) {
	t.Call(tid, call, n, err, fmt.Sprintf("%d, %s, %d%s", fd, t.Quote(p), len(p), extra))
}

// Shutdown traces shutdown.
func (t *Tracer) Shutdown(tid, fd, how int, err error) {
	t.Call(tid, "shutdown", 0, err, fmt.Sprintf("%d, %s", fd, name(how, howNames)))
}

// Close traces close.
func (t *Tracer) Close(tid, fd int, err error) {
	t.Call(tid, "close", 0, err, fmt.Sprint(fd))
}

// Fcntl traces the two commands SetNonblock uses: F_GETFL, with the
// flags it returns, and F_SETFL, with the flags it sets.
func (t *Tracer) Fcntl(tid, fd, cmd, arg, ret int, err error) {
	if cmd == unix.F_GETFL {
		res := Result(ret, err)
		if err == nil {
			res = fmt.Sprintf("%#x (flags %s)", ret, Flags(ret, openNames))
		}
		t.CallResult(tid, "fcntl", fmt.Sprintf("%d, F_GETFL", fd), res)
		return
	}
	t.Call(tid, "fcntl", 0, err, fmt.Sprintf("%d, F_SETFL, %s", fd, Flags(arg, openNames)))
}

// Poll traces poll or ppoll (call) as strace does: the pollfds given,
// and after the result the ones that came back with events and the time
// left (ppoll), or "(Timeout)".
func (t *Tracer) Poll(tid int, call string, fds []unix.PollFd, timeout, n int, left *unix.Timespec, err error) {
	args := pollArgs(pollfdsString(fds, false), len(fds), timeout)
	switch {
	case err != nil:
		t.Call(tid, call, n, err, args)
	case n == 0:
		t.CallResult(tid, call, args, "0 (Timeout)")
	case left != nil:
		t.CallResult(tid, call, args, fmt.Sprintf("%d (%s, left {tv_sec=%d, tv_nsec=%d})", n, pollfdsString(fds, true), left.Sec, left.Nsec))
	default:
		t.CallResult(tid, call, args, fmt.Sprintf("%d (%s)", n, pollfdsString(fds, true)))
	}
}

// Pipe traces pipe or pipe2 (call): the two descriptors, and pipe2's
// flags.
func (t *Tracer) Pipe(tid int, call string, p [2]int, err error) {
	t.Call(tid, call, 0, err, fmt.Sprintf("[%d, %d]%s", p[0], p[1], pipeArgs))
}
