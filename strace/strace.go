// Package strace prints system calls as strace prints them, with their
// real arguments and results: the -trace output.
//
//	bind(3, {sa_family=AF_INET, sin_port=htons(50007), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
//
// It is how a student on macOS, where there is no strace, sees the calls;
// on Linux a test checks it against strace itself (trace_test.go at the
// top of the module). Package sock calls a Tracer method after each
// system call it makes, when Out is set: one line of code per call, and
// one nil test when tracing is off (sock's BenchmarkTraceOff); package
// uring prints its calls and operations with the primitives here (Call,
// CallResult, Unfinished, Result, Quote, Flags).
//
// The files: strace.go the Tracer and strace's notation (a line, a
// result, a string, flags, an address); calls.go the line of each of
// sock's calls, in the order of the C listing; calls_linux.go (ppoll,
// pipe2, epoll, SO_PEERNAME), calls_bsd.go (poll, pipe, kqueue, kevent),
// calls_accept4.go (accept4 and sendto on Linux and FreeBSD) and
// calls_darwin.go (accept, write and sendmsg on macOS) what differs
// between the systems.
package strace

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/sys/unix"
)

// Out is the Tracer every traced call prints to: nil unless Enable was
// called.
var Out *Tracer

// Tracer writes trace lines, one whole line at a time, whichever thread
// calls it.
type Tracer struct {
	mu      sync.Mutex
	w       io.Writer
	strsize int
	tids    bool
}

// Enable starts tracing to w (sets Out). Strings longer than strsize
// bytes are cut, as strace's -s does (strace's default is 32). With tids
// set, each line starts with "[pid TID] ", the thread that made the
// call, as strace -f writes it. Call it before any system call is made
// through sock or uring.
func Enable(w io.Writer, strsize int, tids bool) {
	Out = New(w, strsize, tids)
}

// New returns a Tracer writing to w, as Enable describes, without making
// it Out: for tests of the notation.
func New(w io.Writer, strsize int, tids bool) *Tracer {
	return &Tracer{w: w, strsize: strsize, tids: tids}
}

// Tid is the calling thread's id if lines show it, else 0. Callers pass
// it as the first argument, so that it is read before the arguments are
// formatted: formatting can let the goroutine move to another thread.
func (t *Tracer) Tid() int {
	if !t.tids {
		return 0
	}
	return threadID()
}

// Call prints one call: name(args) = result.
func (t *Tracer) Call(tid int, name string, ret int, err error, args string) {
	t.CallResult(tid, name, args, Result(ret, err))
}

// CallResult prints one call with its result written out.
func (t *Tracer) CallResult(tid int, name, args, res string) {
	var b strings.Builder
	if t.tids {
		fmt.Fprintf(&b, "[pid %5d] ", tid)
	}
	b.WriteString(name)
	b.WriteByte('(')
	b.WriteString(args)
	b.WriteByte(')')
	// strace puts the "=" in column 40, or a space after a longer call.
	if b.Len() < 40 {
		b.WriteString(strings.Repeat(" ", 40-b.Len()))
	} else {
		b.WriteByte(' ')
	}
	b.WriteString("= ")
	b.WriteString(res)
	b.WriteByte('\n')
	t.mu.Lock()
	io.WriteString(t.w, b.String())
	t.mu.Unlock()
}

// Unfinished prints a line with no result: a call that has not returned
// ("... <unfinished ...>").
func (t *Tracer) Unfinished(tid int, line string) {
	if t.tids {
		line = fmt.Sprintf("[pid %5d] %s", tid, line)
	}
	t.mu.Lock()
	fmt.Fprintln(t.w, line)
	t.mu.Unlock()
}

// Result is strace's result: a number, or -1 and the errno's name and
// text.
func Result(ret int, err error) string {
	if err == nil {
		return strconv.Itoa(ret)
	}
	errno, ok := err.(unix.Errno)
	if !ok {
		return "-1 (" + err.Error() + ")"
	}
	msg := []rune(errno.Error())
	if len(msg) > 0 {
		msg[0] = unicode.ToUpper(msg[0])
	}
	return fmt.Sprintf("-1 %s (%s)", unix.ErrnoName(errno), string(msg))
}

// Quote is strace's string: C escapes, octal for the rest, cut at strsize
// bytes with "..." after the closing quote.
func (t *Tracer) Quote(p []byte) string {
	cut := len(p) > t.strsize
	if cut {
		p = p[:t.strsize]
	}
	var b strings.Builder
	b.WriteByte('"')
	for i, c := range p {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\v':
			b.WriteString(`\v`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\r':
			b.WriteString(`\r`)
		case c >= ' ' && c < 0x7f:
			b.WriteByte(c)
		case i+1 < len(p) && p[i+1] >= '0' && p[i+1] <= '7':
			fmt.Fprintf(&b, `\%03o`, c) // a digit follows: all three digits
		default:
			fmt.Fprintf(&b, `\%o`, c)
		}
	}
	b.WriteByte('"')
	if cut {
		b.WriteString("...")
	}
	return b.String()
}

// sockaddrString is strace's struct sockaddr, and its length.
func sockaddrString(sa unix.Sockaddr) (string, int) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return fmt.Sprintf(`{sa_family=AF_INET, sin_port=htons(%d), sin_addr=inet_addr("%s")}`, sa.Port, netip.AddrFrom4(sa.Addr)), unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		return fmt.Sprintf(`{sa_family=AF_INET6, sin6_port=htons(%d), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "%s", &sin6_addr), sin6_scope_id=%d}`, sa.Port, netip.AddrFrom16(sa.Addr), sa.ZoneId), unix.SizeofSockaddrInet6
	}
	return fmt.Sprintf("%v", sa), 0
}

// addrOut is an address the kernel filled in, with its length:
// "{sa_family=AF_INET, ...}, [112 => 16]".
func addrOut(sa unix.Sockaddr) string {
	addr, n := sockaddrString(sa)
	return fmt.Sprintf("%s, [%d => %d]", addr, unix.SizeofSockaddrAny, n)
}

// Flags writes v as strace does: NAME|NAME, any unnamed rest in hex.
func Flags(v int, names []Flag) string {
	var parts []string
	for _, n := range names {
		if n.V != 0 && v&n.V == n.V {
			parts = append(parts, n.Name)
			v &^= n.V
		}
	}
	if v != 0 || len(parts) == 0 {
		parts = append(parts, "0x"+strconv.FormatInt(int64(v), 16))
	}
	return strings.Join(parts, "|")
}

// Flag is a constant's value and its name in C.
type Flag struct {
	V    int
	Name string
}

// name returns the name of v among names, or v in decimal.
func name(v int, names []Flag) string {
	for _, n := range names {
		if n.V == v {
			return n.Name
		}
	}
	return strconv.Itoa(v)
}

var (
	domainNames = []Flag{{unix.AF_INET, "AF_INET"}, {unix.AF_INET6, "AF_INET6"}, {unix.AF_UNIX, "AF_UNIX"}}
	levelNames  = []Flag{{unix.SOL_SOCKET, "SOL_SOCKET"}, {unix.IPPROTO_TCP, "SOL_TCP"}, {unix.IPPROTO_IPV6, "SOL_IPV6"}}
	howNames    = []Flag{{unix.SHUT_RD, "SHUT_RD"}, {unix.SHUT_WR, "SHUT_WR"}, {unix.SHUT_RDWR, "SHUT_RDWR"}}
	optNames    = map[int][]Flag{
		unix.SOL_SOCKET:   {{unix.SO_REUSEADDR, "SO_REUSEADDR"}, {unix.SO_ERROR, "SO_ERROR"}, {unix.SO_LINGER, "SO_LINGER"}, {unix.SO_RCVBUF, "SO_RCVBUF"}, {unix.SO_SNDBUF, "SO_SNDBUF"}, {unix.SO_RCVTIMEO, "SO_RCVTIMEO_OLD"}},
		unix.IPPROTO_TCP:  {{unix.TCP_NODELAY, "TCP_NODELAY"}},
		unix.IPPROTO_IPV6: {{unix.IPV6_V6ONLY, "IPV6_V6ONLY"}},
	}
	pollNames = []Flag{{unix.POLLIN, "POLLIN"}, {unix.POLLOUT, "POLLOUT"}, {unix.POLLERR, "POLLERR"}, {unix.POLLHUP, "POLLHUP"}, {unix.POLLNVAL, "POLLNVAL"}}
	msgNames  = []Flag{{unix.MSG_DONTWAIT, "MSG_DONTWAIT"}, {unix.MSG_NOSIGNAL, "MSG_NOSIGNAL"}}
	openNames = []Flag{{unix.O_RDWR, "O_RDWR"}, {unix.O_WRONLY, "O_WRONLY"}, {unix.O_NONBLOCK, "O_NONBLOCK"}}
)

// SockFlags writes the flags of a socket type or of accept4:
// SOCK_CLOEXEC|SOCK_NONBLOCK (macOS has none).
func SockFlags(flags int) string { return Flags(flags, sockTypeFlags) }

// AcceptArgs are accept's arguments after the call: the peer's address
// the kernel wrote and, on Linux and FreeBSD, where it wrote it (Buf),
// the length it set (Size) and accept4's flags.
type AcceptArgs struct {
	Addr  unix.Sockaddr
	Buf   uintptr
	Size  uint32
	Flags int
}

func typeString(typ int) string {
	names := append([]Flag{{unix.SOCK_STREAM, "SOCK_STREAM"}}, sockTypeFlags...)
	return Flags(typ, names)
}

func protoString(domain, proto int) string {
	if proto == 0 && (domain == unix.AF_INET || domain == unix.AF_INET6) {
		return "IPPROTO_IP"
	}
	return strconv.Itoa(proto)
}

func pollfdsString(fds []unix.PollFd, revents bool) string {
	var parts []string
	for _, fd := range fds {
		if !revents {
			parts = append(parts, fmt.Sprintf("{fd=%d, events=%s}", fd.Fd, Flags(int(fd.Events), pollNames)))
		} else if fd.Revents != 0 {
			parts = append(parts, fmt.Sprintf("{fd=%d, revents=%s}", fd.Fd, Flags(int(fd.Revents), pollNames)))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
