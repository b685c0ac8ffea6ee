// Command server is the lab's fetch-and-add server in Go, one Berkeley
// sockets call after another, as the lecture writes them: the twin of
// ../../c/server.c, to read beside it line by line, and of
// ../../python/server.py. Start here; fetchadd serve (../../../server/)
// is the same server, hardened and fast.
//
//	go build -o server ./lecture/go/server     (or: make peers)
//	./server [HOST] PORT      HOST: an IPv4 address (127.0.0.1);
//	                          PORT 0: any free port (it says which)
//
// An iterative server: one client at a time. Each line gets "  --> OLD"
// (the counter before the add) or "!!!!", with CRLF, in order, however
// the lines are cut into reads. Its replies are Python's, byte for byte:
// a line is read as Python 3.11's int() reads bytes (parse, below), and
// the counter is a math/big Int, of any size as Python's int is, printed
// in full. server.c's table of differences from Python has no row here.
//
// Why fetchadd's package sock (../../../sock/) and not
// golang.org/x/sys/unix directly: sock makes the same system calls, one
// function per call, named after it (sock.Bind is bind(2), sock.Read is
// read(2)), and does once what C, and Go on x/sys, leave to each caller:
// an error names its call ("bind: address already in use", perror's work
// in server.c), and a call that a signal interrupts is made again (EINTR:
// Go's runtime signals its own threads, SIGURG, to preempt goroutines).
// Its descriptors are close-on-exec, as Python's are. And fetchadd serve
// makes these calls through the same functions, so what you read here
// reads on there. The price: this file builds inside the fetchadd module
// only; on x/sys alone, each sock.X is unix.X and a loop on EINTR.
//
// No signal(SIGPIPE, SIG_IGN) is needed: Go's runtime ignores SIGPIPE
// for a write to any descriptor but 1 and 2, and write returns EPIPE.
package main

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

const (
	maxLine   = 16384 // bytes before the LF; a longer line is "!!!!"
	maxDigits = 4300  // Python 3.11's int() reads no more digits
	backlog   = 1     // the lab's listen(1): docs/lab-5-one-at-a-time.md
)

// writeAll writes all of p. write(2) may take fewer bytes than asked
// (the socket's send buffer was nearly full): write the rest.
func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := sock.Write(fd, p)
		if err != nil {
			return err // EPIPE, ECONNRESET: the client has gone
		}
		p = p[n:]
	}
	return nil
}

// parse reads a line (without its LF) as Python's int() reads bytes:
// ASCII whitespace around it, a sign, decimal digits with single
// underscores between them ("1_000"), at most 4300 digits.
func parse(line []byte) (*big.Int, bool) {
	s := strings.Trim(string(line), " \t\n\v\f\r")
	sign := ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		sign, s = s[:1], s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return nil, false
	}
	s = strings.ReplaceAll(s, "_", "")
	if len(s) > maxDigits {
		return nil, false
	}
	return new(big.Int).SetString(sign+s, 10) // false for any byte not a digit
}

// reply appends the answer to one line to out: the fetch-and-add.
func reply(out []byte, counter *big.Int, line []byte, tooLong bool) []byte {
	incr, ok := parse(line)
	if tooLong || !ok {
		return append(out, "!!!!\r\n"...)
	}
	out = append(out, "  --> "...)
	out = counter.Append(out, 10) // the value before the add
	counter.Add(counter, incr)
	return append(out, "\r\n"...)
}

// serve answers one client until it closes its side.
func serve(cfd int, counter *big.Int) {
	buf := make([]byte, 4096)
	var line []byte // the line so far
	tooLong := false
	for {
		// read blocks until bytes arrive, and returns what has arrived:
		// part of a line, or several lines. 0 is the end of the stream.
		n, err := sock.Read(cfd, buf)
		if err != nil {
			return // ECONNRESET: the client has gone, its last line with it
		}
		if n == 0 {
			break
		}
		var out []byte
		for _, c := range buf[:n] {
			switch {
			case c == '\n':
				out = reply(out, counter, line, tooLong)
				line, tooLong = line[:0], false
			case len(line) < maxLine:
				line = append(line, c)
			default:
				tooLong = true // drop the line up to its LF
			}
		}
		// write: the replies to this read, in one call.
		if len(out) > 0 && writeAll(cfd, out) != nil {
			return
		}
	}
	if len(line) > 0 || tooLong { // a last line without LF
		writeAll(cfd, reply(nil, counter, line, tooLong))
	}
}

// address reads [HOST] PORT from the command line.
func address(args []string) *unix.SockaddrInet4 {
	host, port := "127.0.0.1", ""
	switch len(args) {
	case 2:
		port = args[1]
	case 3:
		host, port = args[1], args[2]
	default:
		fmt.Fprintf(os.Stderr, "usage: %s [HOST] PORT\n", args[0])
		os.Exit(2)
	}
	ip, err := netip.ParseAddr(host)
	p, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || !ip.Is4() || perr != nil {
		fmt.Fprintf(os.Stderr, "server.go: want an IPv4 address and a port from 0 to 65535, got %s %s\n", host, port)
		os.Exit(2)
	}
	// x/sys puts the port in network byte order (htons) itself.
	return &unix.SockaddrInet4{Addr: ip.As4(), Port: int(p)}
}

// check ends the program on an error, as perror and exit do in C.
func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "server.go:", err) // "bind: address already in use"
		os.Exit(1)
	}
}

func main() {
	sin := address(os.Args)

	// socket: the kernel makes a TCP endpoint and gives its descriptor,
	// the lowest free number (3: 0, 1 and 2 are stdin, stdout, stderr).
	fd, err := sock.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	check(err)
	// SO_REUSEADDR: bind even while old connections of this port linger
	// in TIME_WAIT, so a restarted server starts at once.
	check(sock.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
	// bind: give the socket its address and port.
	check(sock.Bind(fd, sin))
	// listen: from now on the kernel itself completes clients' three-way
	// handshakes and queues them, up to about backlog, for accept.
	check(sock.Listen(fd, backlog))
	// getsockname: which port we got (the kernel chose it for port 0).
	name, err := sock.Getsockname(fd)
	check(err)
	fmt.Fprintf(os.Stderr, "server.go: listening on %s: one connection at a time\n", sock.String(name))

	counter := new(big.Int) // one counter for the server's life
	for {
		// accept blocks until the backlog holds a connection, takes it,
		// and gives it a descriptor of its own (4); fd goes on listening.
		// false: a blocking descriptor, as C's accept gives (no
		// SOCK_NONBLOCK); the _ is the client's address.
		cfd, _, err := sock.Accept(fd, false)
		if errors.Is(err, unix.ECONNABORTED) {
			continue // a client gave up before we took it
		}
		check(err)
		serve(cfd, counter)
		// close: the kernel sends our FIN; the descriptor is free again.
		sock.Close(cfd)
	}
}
