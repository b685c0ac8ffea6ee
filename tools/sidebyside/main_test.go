package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// need returns the path of tool, or skips the test, naming it.
func need(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", tool)
	}
	return path
}

// build compiles the C server, the Go twin and fetchadd as they are now,
// and returns the config that runs them (and the Python server) on input.
func build(t *testing.T, input string) config {
	t.Helper()
	dir := t.TempDir()
	cfg := config{
		C:      filepath.Join(dir, "peer-c-server"),
		Python: "../../lecture/python/server.py",
		Twin:   filepath.Join(dir, "peer-go-server"),
		Go:     filepath.Join(dir, "fetchadd"),
		Input:  []byte(input),
	}
	if out, err := exec.Command(need(t, "cc"), "-Wall", "-Wextra", "-O2", "-o", cfg.C, "../../lecture/c/server.c").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	for bin, pkg := range map[string]string{cfg.Twin: "../../lecture/go/server", cfg.Go: "../.."} {
		if out, err := exec.Command(need(t, "go"), "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return cfg
}

// testSession is what the tests send: the handout's first lines, a number
// made up for this run (so the columns must come from running the
// programs now), an empty line; and the replies to it.
func testSession() (input, nonce, replies string) {
	nonce = fmt.Sprint(100000 + rand.IntN(900000))
	return "5\n3\nx\n" + nonce + "\n\n", nonce, "  --> 0\r\n  --> 5\r\n!!!!\r\n  --> 8\r\n!!!!\r\n"
}

// labSteps is the lab's order of calls for a session of n lines.
func labSteps(n int) []string {
	s := []string{"socket", "SO_REUSEADDR", "bind", "listen", "getsockname", "accept"}
	for i := 0; i < n; i++ {
		s = append(s, "request", "reply")
	}
	return append(s, "end", "close")
}

// checkColumn: the column has the lab's calls in the lab's order, it read
// this run's number, and it answered what the protocol says.
func checkColumn(t *testing.T, c column, nonce, replies string) {
	t.Helper()
	if c.Note != "" {
		t.Fatalf("%s: %s", c.Title, c.Note)
	}
	if got, want := labOrder(c.Calls), labSteps(5); !slices.Equal(got, want) {
		t.Errorf("%s: the lab's calls in the order\n %q\nwant\n %q\nthe calls:\n %s", c.Title, got, want, strings.Join(c.Calls, "\n "))
	}
	read := false
	for _, call := range c.Calls {
		if step(call) == "request" && strings.Contains(call, `"`+nonce+`\n"`) {
			read = true
		}
	}
	if !read {
		t.Errorf("%s: no read of this run's line %q in\n %s", c.Title, nonce, strings.Join(c.Calls, "\n "))
	}
	if string(c.Replies) != replies {
		t.Errorf("%s: replies %q, want %q", c.Title, c.Replies, replies)
	}
}

// TestSideBySide runs make side-by-side's four servers under strace and
// checks that each column shows the lab's calls in the lab's order, from
// the programs as they are (built now, reading this run's line), that the
// table's columns line up, and that the legend explains the differences
// they show.
func TestSideBySide(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("strace is Linux's; TestSideBySideTrace covers the -trace column")
	}
	strace := need(t, "strace")
	need(t, "python3")
	input, nonce, replies := testSession()
	cfg := build(t, input)
	cfg.Strace = strace
	cols := run(cfg)
	if len(cols) != 4 {
		t.Fatalf("%d columns, want C, Python, lecture/go and fetchadd", len(cols))
	}
	for _, c := range cols {
		checkColumn(t, c, nonce, replies)
	}
	// What the lab's programs are known to do, as the issue measured it;
	// the Go twin, server.c's descriptors and calls (write, not sendto).
	for i, want := range []string{"accept(3, ", "accept4(3, ", "accept4(3, ", "accept4(3, "} {
		if !slices.ContainsFunc(cols[i].Calls, func(c string) bool { return strings.HasPrefix(c, want) }) {
			t.Errorf("%s: no %s...", cols[i].Title, want)
		}
	}
	if !slices.ContainsFunc(cols[1].Calls, func(c string) bool {
		return strings.HasPrefix(c, "recvfrom(4, ") && strings.Contains(c, ", 1024, 0, NULL, NULL)")
	}) {
		t.Errorf("Python: no recvfrom(4, ..., 1024, 0, NULL, NULL)")
	}
	for _, want := range []string{`read(4, "5\n", 4096) = 2`, `write(4, "  --> 0\r\n", 9) = 9`, "close(4) = 0"} {
		if !slices.Contains(cols[colTwin].Calls, want) {
			t.Errorf("%s: no %s in\n %s", cols[colTwin].Title, want, strings.Join(cols[colTwin].Calls, "\n "))
		}
	}

	var out bytes.Buffer
	render(&out, cols)
	table := strings.Split(strings.TrimSpace(out.String()), "\n")
	rows := 0
	for _, l := range table {
		if strings.Count(l, " | ") != len(cols) {
			continue
		}
		rows++
		if at, want := bars(l), bars(table[0]); !slices.Equal(at, want) {
			t.Errorf("row not aligned with the header:\n%s\n%s", table[0], l)
		}
	}
	if want := len(align([][]string{cols[0].Calls, cols[1].Calls, cols[2].Calls, cols[3].Calls})) + 1; rows != want {
		t.Errorf("%d rows in the table, want %d:\n%s", rows, want, out.String())
	}
	if !strings.Contains(out.String(), "All 4 answered the same") {
		t.Errorf("the table does not say the replies agree:\n%s", out.String())
	}

	checkStacked(t, cfg, cols)
	checkWide(t, cfg, cols)

	text := strings.Join(legend(cols), "\n")
	for _, want := range []string{"in the lab's order", "accept vs accept4", "SOCK_CLOEXEC", "read vs recvfrom", "write vs sendto", "Go twice", "the backlog", "IPPROTO_IP vs IPPROTO_TCP", "socketserver", "poll(", "= 4 vs = 6"} {
		if !strings.Contains(text, want) {
			t.Errorf("the legend does not explain %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "MSG_NOSIGNAL") != slices.ContainsFunc(cols[colGo].Calls, func(c string) bool { return strings.Contains(c, "MSG_NOSIGNAL") }) {
		t.Errorf("the legend's MSG_NOSIGNAL entry does not follow the Go column")
	}
}

// checkStacked: the default report has no line wider than 100, and its
// stacked table gives back each column's calls, in order, from the lines
// marked with the column's letter (a call folded onto the next lines
// joined again).
func checkStacked(t *testing.T, cfg config, cols []column) {
	t.Helper()
	var out bytes.Buffer
	report(&out, cfg, "testdata/golden/handout.in", cols, false)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		if len(l) > width {
			t.Errorf("a line of %d bytes in the default output, wider than %d:\n%s", len(l), width, l)
		}
	}
	head := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "step ") })
	if head < 0 {
		t.Fatalf("no table in\n%s", out.String())
	}
	callAt := strings.Index(lines[head], "call")
	marksAt := strings.Index(lines[head], cols[0].Key)
	got := make([][]string, len(cols))
	var last []int // the columns of the line before
	for _, l := range lines[head+2:] {
		if l == "" {
			break
		}
		if strings.TrimSpace(l[:callAt]) == "" { // a folded call's next line
			for _, i := range last {
				n := len(got[i]) - 1
				if strings.HasSuffix(got[i][n], ",") {
					got[i][n] += " "
				}
				got[i][n] += strings.TrimSpace(l)
			}
			continue
		}
		last = nil
		for i, c := range cols {
			if l[marksAt+2*i:marksAt+2*i+1] == c.Key {
				got[i] = append(got[i], l[callAt:])
				last = append(last, i)
			}
		}
	}
	for i, c := range cols {
		if !slices.Equal(got[i], c.Calls) {
			t.Errorf("%s: the stacked table marks %s on\n %s\nwant\n %s", c.Title, c.Key, strings.Join(got[i], "\n "), strings.Join(c.Calls, "\n "))
		}
	}
}

// checkWide: -wide's report has each call whole on one line.
func checkWide(t *testing.T, cfg config, cols []column) {
	t.Helper()
	var out bytes.Buffer
	report(&out, cfg, "testdata/golden/handout.in", cols, true)
	lines := strings.Split(out.String(), "\n")
	for _, c := range cols {
		for _, call := range c.Calls {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, call) }) {
				t.Errorf("%s: %s is not whole on a line of -wide's output", c.Title, call)
			}
		}
	}
}

// TestFold: no line wider than asked, broken after a separator where one
// fits, else in the word, and nothing lost.
func TestFold(t *testing.T) {
	s := `setsockopt(6, SOL_SOCKET, SO_RCVTIMEO_OLD, ",\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) = 0`
	got := strings.Split(fold(s, 30, 40, 4, ", "), "\n")
	want := []string{
		"setsockopt(6, SOL_SOCKET,",
		`    SO_RCVTIMEO_OLD,`,
		`    ",\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0",`,
		`    16) = 0`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	long := strings.Repeat("x", 25)
	if got, want := fold(long, 10, 12, 2, ", "), "xxxxxxxxxx\n  xxxxxxxxxx\n  xxxxx"; got != want {
		t.Errorf("a word wider than the line: %q, want %q", got, want)
	}
}

// TestQuoted: the replies quoted in pieces of whole lines, none wider
// than asked, that make the replies again.
func TestQuoted(t *testing.T) {
	replies := []byte("  --> 0\r\n  --> 5\r\n!!!!\r\n" + strings.Repeat("9", 40) + "\r\n")
	got := quoted(replies, 24)
	var back []byte
	for _, q := range got {
		if len(q) > 24 {
			t.Errorf("%s: wider than 24", q)
		}
		s, err := strconv.Unquote(q)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, s...)
	}
	if !bytes.Equal(back, replies) || got[0] != `"  --> 0\r\n  --> 5\r\n"` {
		t.Errorf("pieces %q: %q, want %q from two lines first", got, back, replies)
	}
}

// bars is where a table line has its column separators.
func bars(line string) []int {
	var at []int
	for i := 0; i+3 <= len(line); i++ {
		if line[i:i+3] == " | " {
			at = append(at, i)
		}
	}
	return at
}

// TestSideBySideTrace: where there is no strace, fetchadd's column comes
// from -trace, with the lab's order, and the others say why they are empty.
func TestSideBySideTrace(t *testing.T) {
	input, nonce, replies := testSession()
	cols := run(build(t, input))
	for _, c := range cols[:colGo] {
		if c.Note != "(no strace)" {
			t.Errorf("%s without strace: %q", c.Title, c.Note)
		}
	}
	checkColumn(t, cols[colGo], nonce, replies)
	var out bytes.Buffer
	report(&out, config{Input: []byte(input)}, "in", cols, false)
	for _, l := range strings.Split(out.String(), "\n") {
		if len(l) > width {
			t.Errorf("a line of %d bytes in the default output, wider than %d:\n%s", len(l), width, l)
		}
	}
}

// TestLabCalls: strace's lines are cut down to the lab's calls: a call
// split around another thread's is joined, other descriptors' calls and
// x/sys's SO_PROTOCOL are left out, and the story ends at the close.
func TestLabCalls(t *testing.T) {
	raw := []string{
		`100 read(3</usr/lib/python3.11/os.py>, "..."..., 4096) = 4096`,
		`100 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[1116840]>`,
		`100 bind(3<TCP:[1116840]>, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0`,
		`100 listen(3<TCP:[127.0.0.1:50007]>, 1) = 0`,
		`100 getsockopt(3<TCP:[127.0.0.1:50007]>, SOL_SOCKET, SO_PROTOCOL, [6], [4]) = 0`,
		`101 accept4(3<TCP:[127.0.0.1:50007]>,  <unfinished ...>`,
		`100 write(2<pipe:[5]>, "fetchadd: listening"..., 40) = 40`,
		`101 <... accept4 resumed>{sa_family=AF_INET6, sin6_port=htons(55438), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, [112 => 28], SOCK_CLOEXEC) = 4<TCPv6:[[::1]:50007->[::1]:55438]>`,
		`101 read(4<TCPv6:[[::1]:50007->[::1]:55438]>, 0x2332c99ca000, 4096) = -1 EINTR (Interrupted system call)`,
		`101 read(4<TCPv6:[[::1]:50007->[::1]:55438]>, "", 4096) = 0`,
		`101 close(4<TCPv6:[[::1]:50007->[::1]:55438]>)   = 0`,
		`101 accept4(3<TCP:[127.0.0.1:50007]>, 0x7ffc881f9c60, [16], SOCK_CLOEXEC) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)`,
	}
	want := []string{
		`socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3`,
		`bind(3, {AF_INET, 127.0.0.1:0}, 16) = 0`,
		`listen(3, 1) = 0`,
		`accept4(3, {AF_INET6, [::1]:55438}, [112 => 28], SOCK_CLOEXEC) = 4`,
		`read(4, "", 4096) = 0`,
		`close(4) = 0`,
	}
	if got := labCalls(raw, true); !slices.Equal(got, want) {
		t.Errorf("got\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(want, "\n "))
	}
}

// TestAlign: equal steps share a row; a step only one column has gets a
// row of its own, with gaps beside it; a step two columns have that the
// others lack shares a row, whichever columns they are.
func TestAlign(t *testing.T) {
	c := []string{"socket() = 3", "accept(3) = 4", "read(4) = 2", "close(4) = 0"}
	py := []string{"socket() = 3", "accept4(3) = 4", "getsockname(4) = 0", "recvfrom(4) = 2", "close(4) = 0"}
	twin := []string{"socket() = 3", "accept4(3) = 4", "read(4) = 2", "write(4) = 9", "close(4) = 0"}
	goCalls := []string{"socket() = 3", "accept4(3) = 4", "setsockopt(4, SOL_TCP, TCP_NODELAY) = 0", "read(4) = 2", "write(4) = 9", "close(4) = 0"}
	got := align([][]string{c, py, twin, goCalls})
	head := [][]int{{0, 0, 0, 0}, {1, 1, 1, 1}}
	tail := [][]int{{2, 3, 2, 3}, {-1, -1, 3, 4}, {3, 4, 4, 5}}
	want := append(append(slices.Clone(head), []int{-1, -1, -1, 2}, []int{-1, 2, -1, -1}), tail...)
	alsoRight := append(append(slices.Clone(head), []int{-1, 2, -1, -1}, []int{-1, -1, -1, 2}), tail...)
	if fmt.Sprint(got) != fmt.Sprint(want) && fmt.Sprint(got) != fmt.Sprint(alsoRight) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestRenderReplies: the table says the servers agree only when every
// column's replies are the same bytes, the last column's too.
func TestRenderReplies(t *testing.T) {
	cols := []column{{Title: "a", Replies: []byte("  --> 0\r\n")}, {Title: "b", Replies: []byte("  --> 0\r\n")}, {Title: "c", Replies: []byte("  --> 0\r\n")}, {Title: "d", Replies: []byte("  --> 0\n")}}
	var out bytes.Buffer
	render(&out, cols)
	if strings.Contains(out.String(), "answered the same") || !strings.Contains(out.String(), `d answered: "  --> 0\n"`) {
		t.Errorf("replies that differ in the last column:\n%s", out.String())
	}
	cols[3].Replies = cols[0].Replies
	out.Reset()
	render(&out, cols)
	if !strings.Contains(out.String(), `All 4 answered the same 9 bytes: "  --> 0\r\n"`) {
		t.Errorf("replies that agree:\n%s", out.String())
	}
}
