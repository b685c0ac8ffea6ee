// Command sidebyside runs the lab's iterative server three times, in C
// (lecture/c/server.c), Python (lecture/python/server.py) and Go
// (fetchadd serve), each under strace -f, sends each the same lines (the
// handout's inputs), and prints their socket calls side by side: a row
// per step of the lab, from socket to close, and a legend that explains
// every difference. Where there is no strace (macOS), it says so, and the
// Go column comes from fetchadd's own -trace.
//
//	make side-by-side     (builds bin/fetchadd and the peers, then runs this)
//	go run ./tools/sidebyside [-c BIN] [-python SCRIPT] [-go BIN] [-input FILE]
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// timeout bounds every wait: a server's start, a reply, its stop.
const timeout = 20 * time.Second

// config says which programs to run and what to send them.
type config struct {
	C, Python, Go string // the C server binary, the Python script, fetchadd
	Input         []byte // the lines to send, each ending in LF
	Strace        string // strace's path; "": none (the Go column from -trace)
}

// column is one server's story: its calls, one line each, as strace
// writes them (shortened), from socket to the close of the connection.
type column struct {
	Title   string
	Calls   []string
	Replies []byte // what the server answered
	Note    string // why the column is empty, if it is
}

func main() {
	c := flag.String("c", "bin/peer-c-server", "the C server (make peers builds it)")
	py := flag.String("python", "lecture/python/server.py", "the Python server's script")
	goBin := flag.String("go", "bin/fetchadd", "fetchadd (make build)")
	input := flag.String("input", "testdata/golden/handout.in", "the lines to send to each server")
	flag.Parse()
	in, err := os.ReadFile(*input)
	if err != nil {
		fail(err)
	}
	cfg := config{C: *c, Python: *py, Go: *goBin, Input: in}
	if runtime.GOOS == "linux" {
		cfg.Strace, _ = exec.LookPath("strace")
	}
	if cfg.Strace == "" {
		fmt.Printf("No strace here (%s). strace is Linux's (apt-get install strace); macOS has\n"+
			"none (dtruss needs System Integrity Protection off). So the C and Python\n"+
			"columns stay empty, and the Go column comes from fetchadd's own -trace.\n\n", runtime.GOOS)
	}
	cols := run(cfg)
	fmt.Printf("The handout's inputs (%s, %d lines) sent to each iterative server, one\n"+
		"line at a time, each reply awaited, then shutdown(SHUT_WR). Socket calls only:\n"+
		"strace -f -yy, keeping the calls on TCP sockets from socket to the close.\n\n",
		*input, bytes.Count(in, []byte("\n")))
	render(os.Stdout, cols)
	fmt.Println()
	for _, l := range legend(cols) {
		fmt.Println(wrap(l, 78))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sidebyside:", err)
	os.Exit(1)
}

// run traces the three servers in turn.
func run(cfg config) []column {
	cols := []column{
		{Title: "C: lecture/c/server.c"},
		{Title: "Python: lecture/python/server.py"},
		{Title: "Go: fetchadd serve"},
	}
	var err error
	if cfg.Strace == "" {
		cols[0].Note, cols[1].Note = "(no strace)", "(no strace)"
		cols[2].Title = "Go: fetchadd serve -trace"
		cols[2].Calls, cols[2].Replies, err = goTrace(cfg)
		if err != nil {
			cols[2].Note = "(" + err.Error() + ")"
		}
		return cols
	}
	python, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	servers := [][]string{
		{cfg.C, "127.0.0.1", "0"},
		{strings.TrimSpace(string(python)), cfg.Python, "127.0.0.1", "0"},
		{cfg.Go, "serve", "-addr", "127.0.0.1:0"},
	}
	if err != nil {
		servers[1] = nil
		cols[1].Note = "(no python3)"
	}
	for i, argv := range servers {
		if argv == nil {
			continue
		}
		cols[i].Calls, cols[i].Replies, err = straced(cfg, argv)
		if err != nil {
			cols[i].Note = "(" + err.Error() + ")"
		}
	}
	return cols
}

// straced runs the server argv under strace, sends it the input, stops
// it, and returns its calls and its replies.
func straced(cfg config, argv []string) ([]string, []byte, error) {
	dir, err := os.MkdirTemp("", "sidebyside")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "strace.txt")
	args := append([]string{"-f", "-qq", "-yy", "-s", "32", "-e", "trace=%network,read,write,close,poll,ppoll", "-e", "signal=none", "-o", out}, argv...)
	cmd := exec.Command(cfg.Strace, args...)
	// TZ="": Go's log clock needs no zoneinfo file.
	cmd.Env = append(os.Environ(), "TZ=")
	replies, err := serveSession(cmd, cfg.Input, func() error {
		pid, err := childOf(cmd.Process.Pid)
		if err == nil {
			err = syscall.Kill(pid, syscall.SIGTERM) // the server: strace follows it out
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, nil, err
	}
	return labCalls(strings.Split(string(raw), "\n"), true), replies, nil
}

// goTrace runs fetchadd serve -trace, where there is no strace.
func goTrace(cfg config) ([]string, []byte, error) {
	cmd := exec.Command(cfg.Go, "serve", "-addr", "127.0.0.1:0", "-trace")
	var trace bytes.Buffer
	replies, err := serveSession(cmd, cfg.Input, func() error {
		return cmd.Process.Signal(syscall.SIGTERM)
	}, &trace)
	if err != nil {
		return nil, nil, err
	}
	return labCalls(strings.Split(trace.String(), "\n"), false), replies, nil
}

var listening = regexp.MustCompile(`listening on (\S+):`)

// serveSession starts cmd, waits until it says where it listens, sends
// it the input as one client, calls stop, and waits for cmd to end. The
// server's stderr, past the line that says where, goes to logs.
func serveSession(cmd *exec.Cmd, input []byte, stop func() error, logs ...io.Writer) ([]byte, error) {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	addrc := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stderr)
		found := false
		for {
			line, err := r.ReadString('\n')
			if m := listening.FindStringSubmatch(line); m != nil && !found {
				addrc <- m[1]
				found = true
			}
			for _, w := range logs {
				w.Write([]byte(line))
			}
			if err != nil {
				break
			}
		}
		if !found {
			close(addrc)
		}
		done <- cmd.Wait()
	}()
	kill := func() {
		cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(timeout):
		}
	}
	var addr string
	select {
	case a, ok := <-addrc:
		if !ok {
			return nil, fmt.Errorf("%s ended before listening: %v", filepath.Base(cmd.Args[0]), <-done)
		}
		addr = a
	case <-time.After(timeout):
		kill()
		return nil, fmt.Errorf("%s did not say where it listens", filepath.Base(cmd.Args[0]))
	}
	replies, err := session(addr, input)
	if err == nil {
		err = stop()
	}
	if err != nil {
		kill()
		return nil, err
	}
	select {
	case <-done: // killed by SIGTERM, or stopped by it: either is fine
	case <-time.After(timeout):
		kill()
		return nil, errors.New("the server did not stop")
	}
	return replies, nil
}

// session sends each line of input to addr and waits for its reply, as a
// student typing into nc would; then shutdown(SHUT_WR), and the server's
// close. The server has closed the connection when session returns.
func session(addr string, input []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	var replies []byte
	for _, line := range bytes.SplitAfter(input, []byte("\n")) {
		if len(line) == 0 || line[len(line)-1] != '\n' {
			if _, err := c.Write(line); err != nil {
				return nil, err
			}
			break // a last line without LF: answered at the end
		}
		if _, err := c.Write(line); err != nil {
			return nil, err
		}
		reply, err := r.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("reply to %q: %w", line, err)
		}
		replies = append(replies, reply...)
	}
	c.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(r) // to the server's close
	return append(replies, rest...), err
}

// childOf finds the process that strace (pid) started.
func childOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			return strconv.Atoi(f[0])
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return strconv.Atoi(e.Name())
		}
	}
	return 0, fmt.Errorf("no child of strace (pid %d)", pid)
}

var (
	pidPrefix  = regexp.MustCompile(`^(\[pid +\d+\] |\d+ +)`)
	unfinished = regexp.MustCompile(` <unfinished \.\.\.>$`)
	resumed    = regexp.MustCompile(`^<\.\.\. (\w+) resumed>`)
	onTCP      = regexp.MustCompile(`^\w+\(\d+<TCP|= \d+<TCP|^\w+\(\[\{fd=\d+<TCP`)
	tcpNote    = regexp.MustCompile(`(\d+)<TCP(?:v6)?:\[.*?\]>`)
	pollResult = regexp.MustCompile(`\) = (\d+) \(.*\)$`)
	result     = regexp.MustCompile(`\) += `)
	sockaddr4  = regexp.MustCompile(`\{sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]*)"\)\}`)
	sockaddr6  = regexp.MustCompile(`\{sa_family=AF_INET6, sin6_port=htons\((\d+)\), sin6_flowinfo=htonl\(\d+\), inet_pton\(AF_INET6, "([^"]*)", &sin6_addr\), sin6_scope_id=\d+\}`)
	callLine   = regexp.MustCompile(`^\w+\(.*\) += `)
	acceptedFd = regexp.MustCompile(`^accept4?\(.*\) = (\d+)$`)
)

// labCalls picks the lab's calls out of strace's lines (or -trace's): it
// joins a call that strace split around another thread's, keeps the calls
// on TCP sockets (strace -yy marks them; the runtimes' own reads of files,
// loader and log writes are on other descriptors), leaves out x/sys's
// SO_PROTOCOL questions, and stops at the close of the first connection.
// Each call is shortened: no descriptor notes, sockaddrs as {AF_INET,
// ADDR:PORT}.
func labCalls(lines []string, fromStrace bool) []string {
	pending := map[string]string{}
	var calls []string
	conn := ""
	for _, line := range lines {
		pid := pidPrefix.FindString(line)
		line = strings.TrimSpace(strings.TrimPrefix(line, pid))
		if line == "" {
			continue
		}
		if unfinished.MatchString(line) {
			first := unfinished.ReplaceAllString(line, "")
			if i := strings.IndexByte(first, '('); i > 0 {
				pending[pid+first[:i]] = first
			}
			continue
		}
		if m := resumed.FindStringSubmatch(line); m != nil {
			line = pending[pid+m[1]] + line[len(m[0]):]
		}
		if fromStrace && !onTCP.MatchString(line) || !fromStrace && (!callLine.MatchString(line) || strings.HasPrefix(line, "pipe")) {
			continue // not a socket's (the server's stop pipe), or (-trace) a log line
		}
		if strings.HasSuffix(line, "= ?") || strings.Contains(line, "= ? ") || strings.Contains(line, "SO_PROTOCOL") {
			continue
		}
		if strings.Contains(line, "= -1 EINTR") {
			continue // interrupted by a signal (Go's preemption, under load) and made again: one call
		}
		line = shorten(line)
		calls = append(calls, line)
		if m := acceptedFd.FindStringSubmatch(line); m != nil && conn == "" {
			conn = m[1]
		}
		if conn != "" && strings.HasPrefix(line, "close("+conn+")") {
			break
		}
	}
	return calls
}

func shorten(line string) string {
	line = tcpNote.ReplaceAllString(line, "$1")
	line = result.ReplaceAllString(line, ") = ")
	line = sockaddr4.ReplaceAllString(line, "{AF_INET, $2:$1}")
	line = sockaddr6.ReplaceAllString(line, "{AF_INET6, [$2]:$1}")
	if strings.HasPrefix(line, "poll") || strings.HasPrefix(line, "ppoll") {
		line = pollResult.ReplaceAllString(line, ") = $1") // not which fds, nor the time left
	}
	return line
}

// steps names the step of the lab each call makes.
func steps(calls []string) []string {
	var s []string
	accepted := false
	for _, c := range calls {
		key := step(c)
		if key == "accept" {
			accepted = true
		}
		if key == "getsockname" && accepted {
			key = "check" // Python's, on the new connection
		}
		s = append(s, key)
	}
	return s
}

// labOrder is the lab's steps, in order, that calls make: the steps
// every server has (not Go's options and waits, nor Python's check).
func labOrder(calls []string) []string {
	var lab []string
	for _, k := range steps(calls) {
		if k != "option" && k != "check" && k != "wait" {
			lab = append(lab, k)
		}
	}
	return lab
}

func step(call string) string {
	name := call
	if i := strings.IndexByte(call, '('); i > 0 {
		name = call[:i]
	}
	switch name {
	case "socket", "bind", "listen", "getsockname", "close", "shutdown":
		return name
	case "setsockopt":
		if strings.Contains(call, "SO_REUSEADDR") {
			return "SO_REUSEADDR"
		}
		return "option"
	case "accept", "accept4":
		return "accept"
	case "read", "recv", "recvfrom":
		if strings.HasSuffix(call, ") = 0") {
			return "end"
		}
		return "request"
	case "write", "send", "sendto":
		return "reply"
	case "poll", "ppoll":
		return "wait"
	}
	return name
}

// stepLabel says what each step is, in the words of docs/lab-3-calls.md's table.
var stepLabel = map[string]string{
	"socket":       "make a socket",
	"SO_REUSEADDR": "quick restart",
	"bind":         "name it",
	"listen":       "listen",
	"getsockname":  "which port?",
	"accept":       "take a client",
	"option":       "(an option)",
	"check":        "(a socket?)",
	"wait":         "(wait, -idle)",
	"request":      "read a line",
	"reply":        "reply",
	"end":          "client gone",
	"shutdown":     "shutdown",
	"close":        "hang up",
}

// align lines the columns up: a row per step, the columns' calls of that
// step side by side, a gap where a column has no such call. It is the
// alignment of the three lists of steps that puts the most equal steps
// in the same rows (a three-way longest common subsequence).
func align(cols [][]string) [][3]int {
	a, b, c := steps(cols[0]), steps(cols[1]), steps(cols[2])
	na, nb, nc := len(a), len(b), len(c)
	idx := func(i, j, k int) int { return (i*(nb+1)+j)*(nc+1) + k }
	best := make([]int, (na+1)*(nb+1)*(nc+1))
	// moves: which columns a row takes a call from (bit 0: a, 1: b, 2: c)
	score := func(i, j, k, m int) (int, bool) {
		var keys []string
		if m&1 != 0 {
			if i == na {
				return 0, false
			}
			keys = append(keys, a[i])
		}
		if m&2 != 0 {
			if j == nb {
				return 0, false
			}
			keys = append(keys, b[j])
		}
		if m&4 != 0 {
			if k == nc {
				return 0, false
			}
			keys = append(keys, c[k])
		}
		for _, key := range keys[1:] {
			if key != keys[0] {
				return 0, false
			}
		}
		return len(keys) * (len(keys) - 1) / 2, true // pairs in step
	}
	next := func(i, j, k, m int) (int, int, int) { return i + m&1, j + m>>1&1, k + m>>2&1 }
	for i := na; i >= 0; i-- {
		for j := nb; j >= 0; j-- {
			for k := nc; k >= 0; k-- {
				if i == na && j == nb && k == nc {
					continue
				}
				v := -1
				for m := 1; m < 8; m++ {
					if s, ok := score(i, j, k, m); ok {
						ni, nj, nk := next(i, j, k, m)
						if t := s + best[idx(ni, nj, nk)]; t > v {
							v = t
						}
					}
				}
				best[idx(i, j, k)] = v
			}
		}
	}
	var rows [][3]int
	for i, j, k := 0, 0, 0; i < na || j < nb || k < nc; {
		for m := 7; m >= 1; m-- { // prefer rows that take from more columns
			if s, ok := score(i, j, k, m); ok {
				ni, nj, nk := next(i, j, k, m)
				if s+best[idx(ni, nj, nk)] == best[idx(i, j, k)] {
					row := [3]int{-1, -1, -1}
					if m&1 != 0 {
						row[0] = i
					}
					if m&2 != 0 {
						row[1] = j
					}
					if m&4 != 0 {
						row[2] = k
					}
					rows = append(rows, row)
					i, j, k = ni, nj, nk
					break
				}
			}
		}
	}
	return rows
}

// render prints the columns side by side.
func render(w io.Writer, cols []column) {
	calls := [][]string{cols[0].Calls, cols[1].Calls, cols[2].Calls}
	rows := align(calls)
	width := [4]int{len("step")}
	for i, c := range cols {
		width[i+1] = max(len(c.Title), len(c.Note))
		for _, call := range c.Calls {
			width[i+1] = max(width[i+1], len(call))
		}
	}
	for _, l := range stepLabel {
		width[0] = max(width[0], len(l))
	}
	line := func(cells [4]string) {
		fmt.Fprintf(w, "%-*s | %-*s | %-*s | %s\n", width[0], cells[0], width[1], cells[1], width[2], cells[2], cells[3])
	}
	line([4]string{"step", cols[0].Title, cols[1].Title, cols[2].Title})
	fmt.Fprintf(w, "%s-+-%s-+-%s-+-%s\n", strings.Repeat("-", width[0]), strings.Repeat("-", width[1]), strings.Repeat("-", width[2]), strings.Repeat("-", width[3]))
	if cols[0].Note != "" || cols[1].Note != "" || cols[2].Note != "" {
		line([4]string{"", cols[0].Note, cols[1].Note, cols[2].Note})
	}
	keys := [][]string{steps(calls[0]), steps(calls[1]), steps(calls[2])}
	for _, row := range rows {
		var cells [4]string
		for i, n := range row {
			if n >= 0 {
				cells[i+1] = calls[i][n]
				cells[0] = stepLabel[keys[i][n]]
			}
		}
		line(cells)
	}
	same := len(cols[0].Replies) > 0 && bytes.Equal(cols[0].Replies, cols[1].Replies) && bytes.Equal(cols[1].Replies, cols[2].Replies)
	if same {
		fmt.Fprintf(w, "\nThe three answered the same %d bytes: %q\n", len(cols[0].Replies), cols[0].Replies)
	} else {
		fmt.Fprintln(w)
		for _, c := range cols {
			fmt.Fprintf(w, "%s answered %q\n", c.Title, c.Replies)
		}
	}
}

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
	anyCol := func(s string) bool { return has(0, s) || has(1, s) || has(2, s) }
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
	if len(cols[0].Calls) > 0 && order(0) == order(1) && order(1) == order(2) {
		add("Legend: what differs, and why. (Every column makes the lab's calls in the lab's order: socket, setsockopt, bind, listen, accept, then read and write for each line, read = 0 when the client has gone, close. After the close each goes back to accept; the columns stop there.)")
	} else {
		add("Legend: what differs, and why. (The columns are not all in the lab's order, socket, setsockopt, bind, listen, accept, read and write, close: see the rows with gaps.)")
	}
	if has(0, "accept(") && (has(1, "accept4(") || has(2, "accept4(")) {
		add("- accept vs accept4: C's accept() is the accept system call. Python and Go call accept4(..., SOCK_CLOEXEC), Linux's accept with flags, so that the new descriptor is close-on-exec from its first instant. macOS has no accept4: there they call accept, then fcntl(FD_CLOEXEC).")
	}
	if anyCol("SOCK_CLOEXEC") && strings.Contains(first(0, "socket("), "SOCK_STREAM,") {
		add("- SOCK_CLOEXEC: Python (since 3.4, PEP 446) and Go make every descriptor close-on-exec, so a program they exec does not inherit their sockets. C's socket() and accept() do so only when asked (SOCK_CLOEXEC, accept4, or fcntl).")
	}
	if anyCol("recvfrom(") {
		add("- read vs recvfrom: Python's conn.recv(1024) is recvfrom(fd, buf, 1024, 0, NULL, NULL), a recv that wants no sender address; C and Go call read. On a connected TCP socket they do the same. 1024 is the Python documentation's example; C and Go ask for 4096 bytes. Either way a read returns what has arrived, a part of a line or several lines.")
	}
	if anyCol("sendto(") && has(0, "write(") {
		add("- write vs sendto: C writes with write(2). Python's sendall is sendto(fd, buf, n, 0, NULL, 0), again until all is sent; it ignores SIGPIPE from start-up, so a client that has gone makes it raise BrokenPipeError (EPIPE). C gets the same with signal(SIGPIPE, SIG_IGN), an rt_sigaction not shown.")
	}
	if anyCol("MSG_NOSIGNAL") {
		add("- MSG_NOSIGNAL (Go): a send to a client that has gone fails with EPIPE instead of killing the server with SIGPIPE, for this call, without touching the process's signals. macOS has no MSG_NOSIGNAL: there fetchadd sets SO_NOSIGPIPE on each socket.")
	}
	if anyCol("MSG_DONTWAIT") {
		add("- MSG_DONTWAIT (Go): this one send does not wait when the socket's send buffer is full; it sends what fits and fails with EAGAIN, and the server then waits in poll(2) for room, no longer than its -idle time.")
	}
	if a, b, c := first(0, "listen("), first(1, "listen("), first(2, "listen("); a != b || b != c {
		add(fmt.Sprintf("- the backlog: %s, %s, %s. The lab's programs take the Python documentation's listen(1); fetchadd listens with 4096 (Linux caps it at net.core.somaxconn) unless told -backlog N. It is how many finished handshakes the kernel queues for accept while the server is busy: see docs/lab-5-one-at-a-time.md, \"The backlog: listen(1)\".", a, b, c))
	}
	if anyCol("[112 => 16]") {
		add("- [112 => 16] vs [16]: the address buffer accept and getsockname fill. C passes a struct sockaddr_in (16 bytes); Go passes room for any sockaddr (112), and the kernel says it wrote 16.")
	}
	if slices.Contains(steps(cols[1].Calls), "check") {
		add("- getsockname after accept (Python): socket.accept() wraps the new descriptor in a socket object, which first checks that it is a socket by asking its address.")
	}
	if anyCol("TCP_NODELAY") {
		add("- TCP_NODELAY (Go): Nagle's algorithm off on each connection, so a small reply goes out at once instead of waiting for the ACK of the last one (with the client's delayed ACKs, up to 40 ms a reply). The lab's programs leave it on; one reply per request does not mind.")
	}
	if has(2, "ppoll(") || has(2, "poll(") {
		add("- ppoll before a read (Go): the server waits for the client's bytes in poll(2) (ppoll on Linux) with a time limit, what is left of its -idle time (5 minutes unless told), and only then reads, which cannot block: a client that says nothing is closed. The lab's read waits for ever.")
	}
	if anyCol("SO_RCVTIMEO") || anyCol("SO_SNDTIMEO") {
		add("- SO_RCVTIMEO (Go): a read that gets nothing for the -idle time (5 minutes unless told) fails with EAGAIN, and the server closes that quiet client. It is set once: the server reads only when its replies have gone, so each read starts at the connection's last progress. The lab's server waits for ever.")
	}
	add("- IPPROTO_IP vs IPPROTO_TCP: these servers pass 0 as socket's protocol, which strace writes IPPROTO_IP: the default protocol of SOCK_STREAM, TCP. A client made with Python's socket.create_connection (lecture/python/client.py) or C's getaddrinfo (lecture/c/client.c) passes the protocol getaddrinfo found, IPPROTO_TCP. The same socket either way.")
	add("- socketserver (next week's bin/peer-python-threaded-server, not shown): it listens with a backlog of 5 (request_queue_size), sets no SO_REUSEADDR unless allow_reuse_address is set (its default is off; ours sets it), and serve_forever waits in poll([{fd=3, events=POLLIN}], 1, 500): a poll every half second, to see whether shutdown() was asked, and accept4 only when a client waits. Each client gets a thread (clone3), and shutdown(SHUT_WR) before its close.")
	if cols[0].Note != "" {
		add("- No C or Python column here: they need strace. On macOS, fetchadd's -trace shows the Go server's calls as strace would write them (docs/deeper-macos.md).")
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
