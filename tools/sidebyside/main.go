// Command sidebyside runs the lab's iterative server four times, in C
// (lecture/c/server.c), Python (lecture/python/server.py), Go as a
// student writes it (lecture/go/server) and Go hardened (fetchadd serve),
// each under strace -f, sends each the same lines (the handout's inputs),
// and prints their socket calls side by side: a row per step of the lab,
// from socket to close, and a legend that explains every difference.
// Where there is no strace (macOS), it says so, and fetchadd's column
// comes from its own -trace.
//
// The table fits 100 columns: each step's calls are stacked, one line for
// each different call, marked with the letters of the columns that make
// it, so that what the servers share shows once and what differs stands
// out; a call too long for its line goes on, indented, on the next. Four
// columns side by side, each call whole on one line, need about 300
// columns: -wide (make side-by-side WIDE=1) prints them so, for a wide
// terminal or a file. (Cutting each column's calls to fit a quarter of
// 100 columns would cut most of them, and the differences are in their
// arguments.)
//
//	make side-by-side [WIDE=1]   (builds bin/fetchadd and the peers, then runs this)
//	go run ./tools/sidebyside [-wide] [-c BIN] [-python SCRIPT] [-twin BIN] [-go BIN] [-input FILE]
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

// width is the default output's widest line; the legend is folded at
// legendWidth, as the notes' prose.
const (
	width       = 100
	legendWidth = 78
)

// config says which programs to run and what to send them.
type config struct {
	C, Python, Twin, Go string // the C server binary, the Python script, the Go twin, fetchadd
	Input               []byte // the lines to send, each ending in LF
	Strace              string // strace's path; "": none (fetchadd's column from -trace)
}

// column is one server's story: its calls, one line each, as strace
// writes them (shortened), from socket to the close of the connection.
type column struct {
	Title   string
	Key     string // its letter in the stacked table
	Calls   []string
	Replies []byte // what the server answered
	Note    string // why the column is empty, if it is
}

func main() {
	c := flag.String("c", "bin/peer-c-server", "the C server (make peers builds it)")
	py := flag.String("python", "lecture/python/server.py", "the Python server's script")
	twin := flag.String("twin", "bin/peer-go-server", "the Go twin of the C server (make peers builds it)")
	goBin := flag.String("go", "bin/fetchadd", "fetchadd (make build)")
	input := flag.String("input", "testdata/golden/handout.in", "the lines to send to each server")
	wide := flag.Bool("wide", false, "the columns side by side, each call whole on one line (about 300 columns); by default each step's calls are stacked, to fit 100")
	flag.Parse()
	in, err := os.ReadFile(*input)
	if err != nil {
		fail(err)
	}
	cfg := config{C: *c, Python: *py, Twin: *twin, Go: *goBin, Input: in}
	if runtime.GOOS == "linux" {
		cfg.Strace, _ = exec.LookPath("strace")
	}
	report(os.Stdout, cfg, *input, run(cfg), *wide)
}

// report prints what run found: what was sent, the table, the legend.
func report(w io.Writer, cfg config, input string, cols []column, wide bool) {
	if cfg.Strace == "" {
		fmt.Fprintf(w, "%s\n\n", wrap(fmt.Sprintf("No strace here (%s). strace is Linux's (apt-get install strace); macOS has "+
			"none (dtruss needs System Integrity Protection off). So the C, Python and "+
			"lecture/go columns stay empty, and fetchadd's comes from its own -trace.", runtime.GOOS), legendWidth))
	}
	fmt.Fprintf(w, "%s\n\n", wrap(fmt.Sprintf("The handout's inputs (%s, %d lines) sent to each iterative server, one "+
		"line at a time, each reply awaited, then shutdown(SHUT_WR). Socket calls only: "+
		"strace -f -yy, keeping the calls on TCP sockets from socket to the close.",
		input, bytes.Count(cfg.Input, []byte("\n"))), legendWidth))
	if wide {
		render(w, cols)
	} else {
		renderStacked(w, cols)
	}
	fmt.Fprintln(w)
	for _, l := range legend(cols) {
		fmt.Fprintln(w, wrap(l, legendWidth))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sidebyside:", err)
	os.Exit(1)
}

// The columns, in the order run makes them.
const (
	colC = iota
	colPython
	colTwin
	colGo
)

// run traces the four servers in turn.
func run(cfg config) []column {
	cols := []column{
		colC:      {Title: "C: lecture/c/server.c", Key: "C"},
		colPython: {Title: "Python: lecture/python/server.py", Key: "P"},
		colTwin:   {Title: "Go: lecture/go/server", Key: "G"},
		colGo:     {Title: "Go: fetchadd serve", Key: "F"},
	}
	var err error
	if cfg.Strace == "" {
		cols[colC].Note, cols[colPython].Note, cols[colTwin].Note = "(no strace)", "(no strace)", "(no strace)"
		cols[colGo].Title = "Go: fetchadd serve -trace"
		cols[colGo].Calls, cols[colGo].Replies, err = goTrace(cfg)
		if err != nil {
			cols[colGo].Note = "(" + err.Error() + ")"
		}
		return cols
	}
	python, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	servers := [][]string{
		colC:      {cfg.C, "127.0.0.1", "0"},
		colPython: {strings.TrimSpace(string(python)), cfg.Python, "127.0.0.1", "0"},
		colTwin:   {cfg.Twin, "127.0.0.1", "0"},
		colGo:     {cfg.Go, "serve", "-addr", "127.0.0.1:0"},
	}
	if err != nil {
		servers[colPython] = nil
		cols[colPython].Note = "(no python3)"
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
		err = nextClient(addr)
	}
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

// nextClient is served by the server: a line, and its reply. An
// iterative server takes it only once it has closed the first client's
// connection, so strace has written that close whole when the server is
// stopped (a signal that kills a process of several threads, as Go's,
// while strace has yet to write a call's end leaves "close(4) = ?").
// The story's columns end at that close: this client is not in them.
func nextClient(addr string) error {
	_, err := session(addr, []byte("0\n"))
	return err
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
// step side by side (a call's index in its column, -1 for a gap). The
// columns join the rows one at a time, each by the alignment that puts
// the most equal steps in the same rows: a longest common subsequence of
// the rows so far and the column's steps, where a row is worth a point
// for each call it holds (each pair of columns in step).
func align(cols [][]string) [][]int {
	var rows [][]int
	var keys []string // each row's step
	for c, calls := range cols {
		rows, keys = merge(rows, keys, steps(calls), c, len(cols))
	}
	return rows
}

// merge adds column c, whose calls make the steps s, to the rows.
func merge(rows [][]int, keys, s []string, c, n int) ([][]int, []string) {
	weight := func(i int) int {
		w := 0
		for _, k := range rows[i] {
			if k >= 0 {
				w++
			}
		}
		return w
	}
	a, b := len(rows), len(s)
	best := make([][]int, a+1) // best[i][j]: of rows[i:] and s[j:]
	for i := range best {
		best[i] = make([]int, b+1)
	}
	for i := a; i >= 0; i-- {
		for j := b; j >= 0; j-- {
			if i < a {
				best[i][j] = best[i+1][j]
			}
			if j < b {
				best[i][j] = max(best[i][j], best[i][j+1])
			}
			if i < a && j < b && keys[i] == s[j] {
				best[i][j] = max(best[i][j], weight(i)+best[i+1][j+1])
			}
		}
	}
	var out [][]int
	var outKeys []string
	for i, j := 0, 0; i < a || j < b; {
		switch {
		case i < a && j < b && keys[i] == s[j] && best[i][j] == weight(i)+best[i+1][j+1]:
			rows[i][c] = j // the call joins the row
			out, outKeys = append(out, rows[i]), append(outKeys, keys[i])
			i, j = i+1, j+1
		case j < b && best[i][j] == best[i][j+1]:
			row := make([]int, n) // a row of its own
			for k := range row {
				row[k] = -1
			}
			row[c] = j
			out, outKeys = append(out, row), append(outKeys, s[j])
			j++
		default:
			out, outKeys = append(out, rows[i]), append(outKeys, keys[i])
			i++
		}
	}
	return out, outKeys
}

// render prints the columns side by side.
func render(w io.Writer, cols []column) {
	var calls, keys [][]string
	for _, c := range cols {
		calls, keys = append(calls, c.Calls), append(keys, steps(c.Calls))
	}
	width := make([]int, len(cols)+1)
	for _, l := range stepLabel {
		width[0] = max(width[0], len(l))
	}
	for i, c := range cols {
		width[i+1] = max(len(c.Title), len(c.Note))
		for _, call := range c.Calls {
			width[i+1] = max(width[i+1], len(call))
		}
	}
	// line prints the cells, each padded to its width but the last.
	line := func(cells []string, sep string) {
		var b strings.Builder
		for i, cell := range cells {
			if i > 0 {
				b.WriteString(sep)
			}
			if i < len(cells)-1 {
				cell += strings.Repeat(" ", width[i]-len(cell))
			}
			b.WriteString(cell)
		}
		fmt.Fprintln(w, b.String())
	}
	cells := func(f func(c column) string) []string {
		out := []string{""}
		for _, c := range cols {
			out = append(out, f(c))
		}
		return out
	}
	head := cells(func(c column) string { return c.Title })
	head[0] = "step"
	line(head, " | ")
	rule := make([]string, len(width))
	for i, n := range width {
		rule[i] = strings.Repeat("-", n)
	}
	line(rule, "-+-")
	if notes := cells(func(c column) string { return c.Note }); strings.Join(notes, "") != "" {
		line(notes, " | ")
	}
	for _, row := range align(calls) {
		cells := make([]string, len(cols)+1)
		for i, n := range row {
			if n >= 0 {
				cells[i+1] = calls[i][n]
				cells[0] = stepLabel[keys[i][n]]
			}
		}
		line(cells, " | ")
	}
	renderReplies(w, cols, 0)
}

// renderReplies says whether the servers answered the same: with their
// replies quoted on the same line, or, when width is not 0, on the lines
// after it, in quoted pieces of whole lines that fit width.
func renderReplies(w io.Writer, cols []column, width int) {
	same := len(cols[0].Replies) > 0
	for _, c := range cols[1:] {
		same = same && bytes.Equal(c.Replies, cols[0].Replies)
	}
	say := func(what string, replies []byte) {
		if width == 0 {
			fmt.Fprintf(w, "%s: %q\n", what, replies)
			return
		}
		fmt.Fprintf(w, "%s:\n", what)
		for _, q := range quoted(replies, width-2) {
			fmt.Fprintf(w, "  %s\n", q)
		}
	}
	fmt.Fprintln(w)
	if same {
		say(fmt.Sprintf("All %d answered the same %d bytes", len(cols), len(cols[0].Replies)), cols[0].Replies)
		return
	}
	for _, c := range cols {
		say(c.Title+" answered", c.Replies)
	}
}

// quoted quotes b in pieces no wider than width, each of as many whole
// lines of b as fit (a line that does not fit alone is cut).
func quoted(b []byte, width int) []string {
	var out []string
	var piece []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(piece) > 0 && len(strconv.Quote(string(piece)+string(line))) > width {
			out, piece = append(out, strconv.Quote(string(piece))), nil
		}
		for len(piece) == 0 && len(line) > 1 && len(strconv.Quote(string(line))) > width {
			n := len(line) - 1 // the longest head of line that fits
			for n > 1 && len(strconv.Quote(string(line[:n]))) > width {
				n--
			}
			out, line = append(out, strconv.Quote(string(line[:n]))), line[n:]
		}
		piece = append(piece, line...)
	}
	if len(piece) > 0 || len(out) == 0 {
		out = append(out, strconv.Quote(string(piece)))
	}
	return out
}

// stacked is a line of the stacked table: a step's call, and which
// columns make it.
type stacked struct {
	Step string // the step's label, on its first line only
	In   []bool // In[i]: column i makes the call
	Call string
}

// stack turns the aligned rows into the stacked table's lines: for each
// row, each different call once, marked with the columns that make it,
// in the order of the columns that make it first.
func stack(cols []column) []stacked {
	var calls, keys [][]string
	for _, c := range cols {
		calls, keys = append(calls, c.Calls), append(keys, steps(c.Calls))
	}
	var out []stacked
	for _, row := range align(calls) {
		first := len(out)
		for i, n := range row {
			if n < 0 {
				continue
			}
			call := calls[i][n]
			j := slices.IndexFunc(out[first:], func(s stacked) bool { return s.Call == call })
			if j < 0 {
				out = append(out, stacked{In: make([]bool, len(cols)), Call: call})
				j = len(out) - 1 - first
			}
			out[first+j].In[i] = true
			out[first].Step = stepLabel[keys[i][n]]
		}
	}
	return out
}

// renderStacked prints the table stacked, no line wider than width: a
// key of the columns' letters, then each step's calls, one line per
// different call, marked with the letters of the columns that make it.
func renderStacked(w io.Writer, cols []column) {
	for _, c := range cols {
		line := c.Key + "  " + c.Title
		if c.Note != "" {
			line += " " + c.Note
		}
		fmt.Fprintln(w, fold(line, width, width, len(c.Key)+2, " "))
	}
	fmt.Fprintln(w)
	label := 0
	for _, l := range stepLabel {
		label = max(label, len(l))
	}
	keys := make([]string, len(cols))
	for i, c := range cols {
		keys[i] = c.Key
	}
	marks := len(strings.Join(keys, " "))
	callAt := label + 1 + marks + 2 // where each call starts
	fmt.Fprintf(w, "%-*s %s  %s\n", label, "step", strings.Join(keys, " "), "call")
	fmt.Fprintf(w, "%s %s  %s\n", strings.Repeat("-", label), strings.Repeat("-", marks), strings.Repeat("-", width-callAt))
	for _, s := range stack(cols) {
		m := make([]string, len(cols))
		for i, in := range s.In {
			m[i] = strings.Repeat(" ", len(keys[i]))
			if in {
				m[i] = keys[i]
			}
		}
		head := fmt.Sprintf("%-*s %s  ", label, s.Step, strings.Join(m, " "))
		fmt.Fprintln(w, head+fold(s.Call, width-callAt, width, callAt+2, ", "))
	}
	renderReplies(w, cols, width)
}

// fold breaks s into lines, the first at most first bytes wide, the
// others rest wide, counting the indent spaces they start with; each
// line ends after the last sep that fits in it (else, with no sep, at
// its width).
func fold(s string, first, rest, indent int, sep string) string {
	var b strings.Builder
	room := first
	for len(s) > room && room > 0 {
		cut := strings.LastIndex(s[:room], sep) + len(sep)
		if cut < len(sep) || strings.TrimSpace(s[:cut]) == "" {
			cut = room // no sep that fits: cut the word
		}
		b.WriteString(strings.TrimRight(s[:cut], " ") + "\n" + strings.Repeat(" ", indent))
		s = s[cut:]
		room = rest - indent
	}
	b.WriteString(s)
	return b.String()
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
