package main

// The legend: every difference between the columns, said once.

import (
	"fmt"
	"slices"
	"strings"
)

// legend explains each difference that the columns show. An entry is
// printed when its difference is there, so the legend follows the code
// (and the OS) as they are.
func legend(cols []column) []string {
	has := func(col int, s string) bool {
		for _, c := range cols[col].Calls {
			if strings.Contains(c, s) {
				return true
			}
		}
		return false
	}
	anyCol := func(s string) bool {
		for i := range cols {
			if has(i, s) {
				return true
			}
		}
		return false
	}
	first := func(col int, prefix string) string {
		for _, c := range cols[col].Calls {
			if strings.HasPrefix(c, prefix) {
				return c
			}
		}
		return ""
	}
	var l []string
	add := func(s string) { l = append(l, s) }
	order := func(i int) string { return strings.Join(labOrder(cols[i].Calls), " ") }
	inOrder := len(cols[0].Calls) > 0
	for i := range cols {
		inOrder = inOrder && order(i) == order(0)
	}
	if inOrder {
		add("Legend: what differs, and why. (Every column makes the lab's calls in the lab's order: socket, setsockopt, bind, listen, accept, then read and write for each line, read = 0 when the client has gone, close. After the close each goes back to accept; the columns stop there.)")
	} else {
		add("Legend: what differs, and why. (The columns are not all in the lab's order, socket, setsockopt, bind, listen, accept, read and write, close: see the rows with gaps.)")
	}
	if has(colC, "accept(") && anyCol("accept4(") {
		add("- accept vs accept4: C's accept() is the accept system call. Python and Go call accept4(..., SOCK_CLOEXEC), Linux's accept with flags, so that the new descriptor is close-on-exec from its first instant. macOS has no accept4: there they call accept, then fcntl(FD_CLOEXEC).")
	}
	if anyCol("SOCK_CLOEXEC") && strings.Contains(first(colC, "socket("), "SOCK_STREAM,") {
		add("- SOCK_CLOEXEC: Python (since 3.4, PEP 446) and Go make every descriptor close-on-exec, so a program they exec does not inherit their sockets. C's socket() and accept() do so only when asked (SOCK_CLOEXEC, accept4, or fcntl).")
	}
	if anyCol("recvfrom(") {
		add("- read vs recvfrom: Python's conn.recv(1024) is recvfrom(fd, buf, 1024, 0, NULL, NULL), a recv that wants no sender address; C and Go call read. On a connected TCP socket they do the same. 1024 is the Python documentation's example; C and Go ask for 4096 bytes. Either way a read returns what has arrived, a part of a line or several lines.")
	}
	if anyCol("sendto(") && has(colC, "write(") {
		add("- write vs sendto: C and lecture/go write with write(2). Python's sendall is sendto(fd, buf, n, 0, NULL, 0), again until all is sent; it ignores SIGPIPE from start-up, so a client that has gone makes it raise BrokenPipeError (EPIPE). C gets the same with signal(SIGPIPE, SIG_IGN), an rt_sigaction not shown; Go's runtime ignores SIGPIPE for every descriptor but 1 and 2.")
	}
	if len(cols[colTwin].Calls) > 0 && len(cols[colGo].Calls) > 0 {
		add("- Go twice: lecture/go/server is server.c in Go, a student's program, its calls made through fetchadd's package sock (one function per system call: sock.Accept is accept4 here). fetchadd serve is the same server, hardened: it makes the same calls through the same functions, and the calls marked (fetchadd) below.")
	}
	if anyCol("MSG_NOSIGNAL") {
		add("- MSG_NOSIGNAL (fetchadd): a send to a client that has gone fails with EPIPE instead of killing the server with SIGPIPE, for this call, without touching the process's signals. macOS has no MSG_NOSIGNAL: there fetchadd sets SO_NOSIGPIPE on each socket.")
	}
	if anyCol("MSG_DONTWAIT") {
		add("- MSG_DONTWAIT (fetchadd): this one send does not wait when the socket's send buffer is full; it sends what fits and fails with EAGAIN, and the server then waits in poll(2) for room, no longer than its -idle time.")
	}
	var listens []string
	for i := range cols {
		listens = append(listens, first(i, "listen("))
	}
	if len(slices.Compact(slices.Clone(listens))) > 1 {
		add(fmt.Sprintf("- the backlog: %s. The lab's programs take the Python documentation's listen(1); fetchadd listens with 4096 (Linux caps it at net.core.somaxconn) unless told -backlog N. It is how many finished handshakes the kernel queues for accept while the server is busy: see docs/lab-5-one-at-a-time.md, \"The backlog: listen(1)\".", strings.Join(listens, ", ")))
	}
	if strings.HasSuffix(first(colGo, "accept"), "= 6") && strings.HasSuffix(first(colC, "accept"), "= 4") {
		add("- = 4 vs = 6 (fetchadd): a new descriptor takes the lowest free number. fetchadd's stop pipe (pipe2, not a socket call, so not shown) took 4 and 5 before its first accept; the lab's programs have none. Never assume a number.")
	}
	if anyCol("[112 => 16]") {
		add("- [112 => 16] vs [16]: the address buffer accept and getsockname fill. C passes a struct sockaddr_in (16 bytes); Go passes room for any sockaddr (112), and the kernel says it wrote 16.")
	}
	if slices.Contains(steps(cols[colPython].Calls), "check") {
		add("- getsockname after accept (Python): socket.accept() wraps the new descriptor in a socket object, which first checks that it is a socket by asking its address.")
	}
	if anyCol("TCP_NODELAY") {
		add("- TCP_NODELAY (fetchadd): Nagle's algorithm off on each connection, so a small reply goes out at once instead of waiting for the ACK of the last one (with the client's delayed ACKs, up to 40 ms a reply). The lab's programs leave it on; one reply per request does not mind.")
	}
	if has(colGo, "ppoll(") || has(colGo, "poll(") {
		add("- ppoll before a read (fetchadd): the server waits for the client's bytes in poll(2) (ppoll on Linux) with a time limit, what is left of its -idle time (5 minutes unless told), and only then reads, which cannot block: a client that says nothing is closed. The lab's read waits for ever.")
	}
	if anyCol("SO_RCVTIMEO") || anyCol("SO_SNDTIMEO") {
		add("- SO_RCVTIMEO (fetchadd): a read that gets nothing for the -idle time (5 minutes unless told) fails with EAGAIN, and the server closes that quiet client. It is set once: the server reads only when its replies have gone, so each read starts at the connection's last progress. The lab's server waits for ever.")
	}
	add("- IPPROTO_IP vs IPPROTO_TCP: these servers pass 0 as socket's protocol, which strace writes IPPROTO_IP: the default protocol of SOCK_STREAM, TCP. A client made with Python's socket.create_connection (lecture/python/client.py) or C's getaddrinfo (lecture/c/client.c) passes the protocol getaddrinfo found, IPPROTO_TCP. The same socket either way.")
	add("- socketserver (next week's bin/peer-python-threaded-server, not shown): it listens with a backlog of 5 (request_queue_size), sets no SO_REUSEADDR unless allow_reuse_address is set (its default is off; ours sets it), and serve_forever waits in poll([{fd=3, events=POLLIN}], 1, 500): a poll every half second, to see whether shutdown() was asked, and accept4 only when a client waits. Each client gets a thread (clone3), and shutdown(SHUT_WR) before its close.")
	if cols[colC].Note != "" {
		add("- No C, Python or lecture/go column here: they need strace. On macOS, fetchadd's -trace shows the Go server's calls as strace would write them (docs/deeper-macos.md).")
	}
	return l
}

// wrap folds a paragraph at width, indenting the rest of a "- " item.
func wrap(s string, width int) string {
	indent := ""
	if strings.HasPrefix(s, "- ") {
		indent = "  "
	}
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && n+1+len(w) > width {
			b.WriteString("\n" + indent)
			n = len(indent)
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
