package main

// The lab in the lecture's languages (lecture/): the C, Python and Go
// peers built and run as a student would, over real sockets on loopback,
// beside the Go server. The Python server is a second, independent
// implementation of the protocol: the differential test holds the Go
// server, in every mode, and the Go twin (lecture/go) to its replies.
// Tests that need cc or python3 skip, naming it, when it is missing;
// .ci/run installs both.

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchadd/bench"
	"fetchadd/internal/testwait"
	"fetchadd/server"
)

// needTool returns the path of tool, or skips the test, naming it.
func needTool(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", tool)
	}
	return path
}

// buildC compiles lecture/c/NAME.c as make peers does. A warning fails.
func buildC(t *testing.T, name string) string {
	t.Helper()
	cc := needTool(t, "cc")
	bin := filepath.Join(t.TempDir(), "peer-c-"+name)
	out, err := exec.Command(cc, "-Wall", "-Wextra", "-O2", "-o", bin, filepath.Join("lecture", "c", name+".c")).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("cc -Wall -Wextra -O2 lecture/c/%s.c: %v\n%s", name, err, out)
	}
	return bin
}

// buildGo builds the Go twin lecture/go/NAME as make peers does.
func buildGo(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "peer-go-"+name)
	out, err := exec.Command(needTool(t, "go"), "build", "-o", bin, "./"+filepath.Join("lecture", "go", name)).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./lecture/go/%s: %v\n%s", name, err, out)
	}
	return bin
}

var pythonOnce struct {
	sync.Once
	path    string
	limited bool // int() refuses more than 4300 digits, as in 3.11
	err     error
}

// python returns the python3 executable itself (a pyenv or similar shim
// in PATH takes a while to start, and would be the process to signal).
func python(t *testing.T) string {
	t.Helper()
	needTool(t, "python3")
	pythonOnce.Do(func() {
		out, err := exec.Command("python3", "-c", "import sys; print(sys.executable); print(hasattr(sys, 'get_int_max_str_digits'))").Output()
		exe, limited, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		pythonOnce.path, pythonOnce.limited, pythonOnce.err = exe, limited == "True", err
	})
	if pythonOnce.err != nil || pythonOnce.path == "" {
		t.Fatalf("python3: %v", pythonOnce.err)
	}
	return pythonOnce.path
}

// The peer servers, as make peers runs them.
func cServer(t *testing.T) []string  { return []string{buildC(t, "server")} }
func goServer(t *testing.T) []string { return []string{buildGo(t, "server")} }
func pyServer(t *testing.T) []string {
	return []string{python(t), filepath.Join("lecture", "python", "server.py")}
}

// needIntLimit skips a test of the Python server's replies where its
// int() has no 4300-digit limit: fetchadd's protocol (docs/operating.md) is Python 3.11's
// (the limit came in 3.11, 3.10.7, 3.9.14, 3.8.14 and 3.7.14).
func needIntLimit(t *testing.T) {
	t.Helper()
	python(t)
	if !pythonOnce.limited {
		t.Skip("this python3's int() has no 4300-digit limit; the protocol is Python 3.11's")
	}
}
func pyThreadedServer(t *testing.T) []string {
	return []string{python(t), filepath.Join("lecture", "python", "threaded_server.py")}
}

// startPeer runs a peer server, argv plus "127.0.0.1 0", until the test
// ends, and returns the address it says it listens on.
func startPeer(t *testing.T, argv []string) string {
	t.Helper()
	cmd := exec.Command(argv[0], append(argv[1:], "127.0.0.1", "0")...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	exited := make(chan struct{})
	var log bytes.Buffer // what it said, for a failure (read once exited)
	go func() {
		r := bufio.NewReader(stderr)
		said := false
		for {
			line, err := r.ReadString('\n')
			log.WriteString(line)
			if m := listening.FindStringSubmatch(line); m != nil && !said {
				addr <- m[1]
				said = true
			}
			if err != nil {
				break
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		testwait.Recv(t, exited, "the killed peer's exit")
	})
	select {
	case a := <-addr:
		return a
	case <-exited:
		t.Fatalf("%s exited before listening: %s", filepath.Base(argv[len(argv)-1]), log.String())
	case <-time.After(timeout):
		t.Fatalf("%s did not say where it listens", filepath.Base(argv[len(argv)-1]))
	}
	return ""
}

// exchange sends input to addr in writes of the sizes cuts gives (all of
// it at once if cuts is nil), half-closes, and returns every byte the
// server sends until it closes. It reads while it writes, as a client
// that pipelines must.
func exchange(t *testing.T, addr string, input []byte, cuts func(left int) int) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * timeout))
	tc := c.(*net.TCPConn)
	tc.SetNoDelay(true) // each write its own segment: the cuts reach the server
	wrote := make(chan error, 1)
	go func() {
		for p := input; len(p) > 0; {
			n := len(p)
			if cuts != nil {
				n = min(cuts(len(p)), len(p))
			}
			if _, err := tc.Write(p[:n]); err != nil {
				wrote <- err
				return
			}
			p = p[n:]
		}
		wrote <- tc.CloseWrite()
	}()
	got, err := io.ReadAll(tc)
	if err != nil {
		t.Fatalf("reading from %s: %v (after %d bytes)", addr, err, len(got))
	}
	if err := testwait.Recv(t, wrote, "the writes"); err != nil {
		t.Fatalf("writing to %s: %v", addr, err)
	}
	return got
}

// TestPeersBuild: the C programs build with -Wall -Wextra -O2 and no
// warning (buildC fails on one), the Go twins build, and every Python
// program compiles.
func TestPeersBuild(t *testing.T) {
	buildC(t, "server")
	buildC(t, "client")
	buildGo(t, "server")
	buildGo(t, "client")
	py := python(t)
	for _, f := range []string{"server.py", "client.py", "threaded_server.py"} {
		src, err := os.ReadFile(filepath.Join("lecture", "python", f))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(py, "-c", "import sys; compile(sys.stdin.read(), sys.argv[1], 'exec')", f)
		cmd.Stdin = bytes.NewReader(src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
}

// TestPeerServersGolden: each golden input, sent at once to a fresh peer
// server and a fresh Go server, gets the same bytes back. The Python
// servers and the Go twin match on every input; the C server on those
// within its long long (the others are TestCServerDifferences' rows).
func TestPeerServersGolden(t *testing.T) {
	cOnly := map[string]bool{"handout.in": true, "empty.in": true, "newlines.in": true, "noeol.in": true, "unicode.in": true, "utf8.in": true}
	peers := []struct {
		name   string
		argv   func(*testing.T) []string
		only   map[string]bool
		python bool // Python's int(): the 4300-digit limit must be there
	}{
		{"go", goServer, nil, false},
		{"c", cServer, cOnly, false},
		{"python", pyServer, nil, true},
		{"python-threaded", pyThreadedServer, nil, true},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			argv := p.argv(t)
			if p.python {
				needIntLimit(t)
			}
			for _, in := range goldens(t) {
				name := filepath.Base(in)
				if p.only != nil && !p.only[name] {
					continue
				}
				t.Run(name, func(t *testing.T) {
					input, _ := readGolden(t, in)
					want := exchange(t, startServer(t, server.Iterative, "127.0.0.1:0").Addr().String(), input, nil)
					got := exchange(t, startPeer(t, argv), input, nil)
					if !bytes.Equal(got, want) {
						t.Fatalf("replies differ from the Go server's:\n got  %.200q\n want %.200q", got, want)
					}
				})
			}
		})
	}
}

// TestPeerClientsGolden: the Go, C and Python clients, fed a golden input
// against the Go server, print what the handout's program prints (ASCII
// inputs: on the wire, int(b'\xd9\xa3') is not 3). The handout's also runs
// against each peer server, over IPv6, and to "localhost".
func TestPeerClientsGolden(t *testing.T) {
	clients := map[string]func(t *testing.T) []string{
		"go": func(t *testing.T) []string { return []string{buildGo(t, "client")} },
		"c":  func(t *testing.T) []string { return []string{buildC(t, "client")} },
		"python": func(t *testing.T) []string {
			return []string{python(t), filepath.Join("lecture", "python", "client.py")}
		},
	}
	// transcript runs the client on host and port and returns its stdout.
	transcript := func(t *testing.T, argv []string, host string, port uint16, input []byte) []byte {
		t.Helper()
		cmd := exec.Command(argv[0], append(argv[1:], host, strconv.Itoa(int(port)))...)
		cmd.Stdin = bytes.NewReader(input)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("%v: %v; stderr %q", argv, err, stderr.String())
		}
		return out
	}
	run := func(t *testing.T, argv []string, addr string, input []byte) []byte {
		t.Helper()
		ap := netip.MustParseAddrPort(addr)
		return transcript(t, argv, ap.Addr().String(), ap.Port(), input)
	}
	for name, argv := range clients {
		t.Run(name, func(t *testing.T) {
			argv := argv(t)
			for _, in := range goldens(t) {
				input, want := readGolden(t, in)
				if !isASCII(input) {
					continue
				}
				t.Run(filepath.Base(in), func(t *testing.T) {
					srv := startServer(t, server.Iterative, "127.0.0.1:0")
					diffTranscript(t, run(t, argv, srv.Addr().String(), input), want)
				})
			}
			input, want := readGolden(t, filepath.Join("testdata", "golden", "handout.in"))
			t.Run("ipv6", func(t *testing.T) {
				srv := startServer(t, server.Iterative, "[::1]:0")
				diffTranscript(t, run(t, argv, srv.Addr().String(), input), want)
			})
			// A name: resolved, and each address tried in turn ("localhost"
			// is ::1 and 127.0.0.1 on most systems; the server is IPv4's).
			t.Run("localhost", func(t *testing.T) {
				srv := startServer(t, server.Iterative, "127.0.0.1:0")
				diffTranscript(t, transcript(t, argv, "localhost", srv.Addr().Port(), input), want)
			})
			for _, peer := range []struct {
				name string
				argv func(*testing.T) []string
			}{{"go-server", goServer}, {"c-server", cServer}, {"python-server", pyServer}, {"python-threaded-server", pyThreadedServer}} {
				t.Run(peer.name, func(t *testing.T) {
					diffTranscript(t, run(t, argv, startPeer(t, peer.argv(t)), input), want)
				})
			}
		})
	}
}

// TestCServerDifferences checks each row of the table in
// lecture/c/server.c's header comment (and docs/lab-4-server.md): what the C server
// answers where a long long and strtoll must differ from Python's int(),
// and where they agree although one might think not. Each row runs on a
// fresh C server, a fresh Go server and a fresh Go twin (lecture/go, in
// the "Go and Python" column: it has no table of its own), the counter at 0.
func TestCServerDifferences(t *testing.T) {
	rows := []struct {
		what, send string
		c, goPy    []string
	}{
		{"number past int64", "9223372036854775808\n1\n",
			[]string{"!!!!", "  --> 0"},
			[]string{"  --> 0", "  --> 9223372036854775808"}},
		{"counter past int64", "9223372036854775807\n1\n-1\n",
			[]string{"  --> 0", "!!!!", "  --> 9223372036854775807"},
			[]string{"  --> 0", "  --> 9223372036854775807", "  --> 9223372036854775808"}},
		{"underscores", "1_000\n1\n",
			[]string{"!!!!", "  --> 0"},
			[]string{"  --> 0", "  --> 1000"}},
		{"over 4300 digits", strings.Repeat("0", 4301) + "7\n1\n",
			[]string{"  --> 0", "  --> 7"},
			[]string{"!!!!", "  --> 0"}},
		{"Unicode digit, space", "\xd9\xa3\n\xc2\xa05\n1\n",
			[]string{"!!!!", "!!!!", "  --> 0"},
			[]string{"!!!!", "!!!!", "  --> 0"}},
		{"line length", strings.Repeat(" ", 16383) + "1\n" + strings.Repeat(" ", 16384) + "1\n2\n",
			[]string{"  --> 0", "!!!!", "  --> 1"},
			[]string{"  --> 0", "!!!!", "  --> 1"}},
		{"whitespace, sign, CR", " +5\r\n\v-5\f\n",
			[]string{"  --> 0", "  --> 5"},
			[]string{"  --> 0", "  --> 5"}},
	}
	// The header comment's table has exactly these rows.
	src, err := os.ReadFile(filepath.Join("lecture", "c", "server.c"))
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	in := false
	for _, l := range strings.Split(string(src), "\n") {
		l = strings.TrimPrefix(l, " *")
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), "what "):
			in = true
		case in && strings.TrimSpace(l) == "":
			in = false
		case in:
			table = append(table, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), 2)[0])
		}
	}
	if len(table) != len(rows) {
		t.Errorf("server.c's table has %d rows %q; the test checks %d", len(table), table, len(rows))
	}
	bin, twin := buildC(t, "server"), buildGo(t, "server")
	for i, row := range rows {
		t.Run(row.what, func(t *testing.T) {
			if i < len(table) && table[i] != row.what {
				t.Errorf("server.c's table row %d is %q, want %q", i+1, table[i], row.what)
			}
			join := func(r []string) string { return strings.Join(r, "\r\n") + "\r\n" }
			if got := exchange(t, startPeer(t, []string{bin}), []byte(row.send), nil); string(got) != join(row.c) {
				t.Errorf("C server: got %.120q, want %q", got, join(row.c))
			}
			if got := exchange(t, startServer(t, server.Iterative, "127.0.0.1:0").Addr().String(), []byte(row.send), nil); string(got) != join(row.goPy) {
				t.Errorf("Go server: got %.120q, want %q", got, join(row.goPy))
			}
			if got := exchange(t, startPeer(t, []string{twin}), []byte(row.send), nil); string(got) != join(row.goPy) {
				t.Errorf("Go twin (lecture/go/server): got %.120q, want %q", got, join(row.goPy))
			}
		})
	}
}

// stream is one connection's worth of generated input: its lines, and
// what follows the last LF (a last line without LF, or nothing).
type stream struct {
	lines []string
	tail  string
	seed  uint64 // for the sizes of the writes
}

func (s stream) bytes() []byte {
	var b bytes.Buffer
	for _, l := range s.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString(s.tail)
	return b.Bytes()
}

// cuts cuts a stream into writes: often a few bytes (a line split across
// reads), often a packet's worth, sometimes tens of KiB (many lines, and
// lines over 16384 bytes, in one read).
func cuts(seed uint64) func(int) int {
	r := rand.New(rand.NewPCG(seed, 1))
	return func(int) int {
		switch r.IntN(10) {
		case 0, 1, 2:
			return 1 + r.IntN(8)
		case 3, 4, 5, 6, 7:
			return 1 + r.IntN(1500)
		default:
			return 1 + r.IntN(70000)
		}
	}
}

// genStreams makes the differential test's input, the same every run:
// sessions of lines covering Python's int() on bytes, its edges, and the
// protocol's.
func genStreams() []stream {
	r := rand.New(rand.NewPCG(2024, 50007))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		if n > 0 && b[0] == '0' {
			b[0] = byte('1' + r.IntN(9))
		}
		return string(b)
	}
	ws := func() string {
		const spaces = " \t\v\f\r"
		b := make([]byte, r.IntN(4))
		for i := range b {
			b[i] = spaces[r.IntN(len(spaces))]
		}
		return string(b)
	}
	underscored := func(s string) string { // a single _ between some digits
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteByte(s[i])
			if i+1 < len(s) && s[i] >= '0' && s[i] <= '9' && s[i+1] >= '0' && s[i+1] <= '9' && r.IntN(3) == 0 {
				b.WriteByte('_')
			}
		}
		return b.String()
	}
	fixed := []string{
		"", " ", "\r", "\t\r", "+", "-", "_", "+-5", "--5", "- 5", "+ 5", "-0", "+0", "007", "0_0", "-00",
		"_1", "1_", "1__0", "+_1", "1_+", "x", "0x10", "1e3", "1.5", "1 2", "12abc", "abc12",
		"\xd9\xa3", "\xef\xbc\x95", "\xc2\xa05", "5\xc2\xa0", "\xe2\x80\x833", "1\x00", "\x00", "\x001",
		"\x1c1", "1\x1f", "\xc2\x851", "\xff\xfe", "\x80", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "18446744073709551616", "\v7\f", " \t-12 \r",
	}
	var pending []string // negations of big numbers, to bring the counter back
	line := func() string {
		if len(pending) > 0 && r.IntN(4) == 0 {
			l := pending[0]
			pending = pending[1:]
			return l
		}
		switch k := r.IntN(100); {
		case k < 30:
			return strconv.Itoa(r.IntN(2001) - 1000)
		case k < 38:
			return strconv.FormatInt(int64(r.Uint64()), 10)
		case k < 50:
			return ws() + []string{"", "+", "-"}[r.IntN(3)] + strconv.Itoa(r.IntN(100000)) + ws()
		case k < 58:
			return underscored(strconv.Itoa(r.IntN(1e9)))
		case k < 75:
			return fixed[r.IntN(len(fixed))]
		case k < 80: // bytes of any kind but LF
			b := make([]byte, 1+r.IntN(20))
			for i := range b {
				for b[i] = byte(r.IntN(256)); b[i] == '\n'; b[i] = byte(r.IntN(256)) {
				}
			}
			return string(b)
		case k < 84: // 4300 digits, Python's limit, and back again later
			n := digits(4300)
			pending = append(pending, "-"+n)
			if r.IntN(2) == 0 {
				return ws() + underscored(n) + ws() // _ do not count
			}
			return n
		case k < 86: // past the counter's 4300 digits: printed in full
			n := strings.Repeat("9", 4300)
			pending = append(pending, "-"+n, "-"+n)
			return n + "\n" + n
		case k < 89: // past the limit: 4301 digits, or leading zeros
			return []string{digits(4301), strings.Repeat("0", 4300) + "1", "-" + digits(4301), strings.Repeat("0", 4300)}[r.IntN(4)]
		case k < 91: // exactly 16384 bytes before the LF: still a line
			n := strconv.Itoa(r.IntN(1000))
			return strings.Repeat(" ", 16384-len(n)-1) + n + "\r"
		case k < 93: // 16385 bytes and more: too long
			n := strconv.Itoa(r.IntN(1000))
			return strings.Repeat(" ", 16385-len(n)+r.IntN(3)*r.IntN(30000)) + n
		default:
			return "\r"
		}
	}
	var streams []stream
	for s := 0; s < 7; s++ {
		var st stream
		st.seed = uint64(s)
		for len(st.lines) < 900 {
			st.lines = append(st.lines, strings.Split(line(), "\n")...)
		}
		switch s {
		case 1:
			st.tail = "  7 " // a last line without LF: answered at the end
		case 2:
			st.tail = strings.Repeat("5", 20000) // too long, and no LF
		case 3:
			st.tail = "1_0"
		case 4:
			st.lines = nil // connects and leaves: no reply
		}
		streams = append(streams, st)
	}
	for len(pending) > 0 { // the last session brings the counter back
		streams[6].lines = append(streams[6].lines, pending[0])
		pending = pending[1:]
	}
	return streams
}

// TestPythonServerDifferential: the Python server (Python's own int(),
// its own line rules) and the Go server, in every mode, get the same
// generated input, session after session on one counter, cut into the
// same writes; their replies must be the same bytes. The Python threaded
// server and the Go twin (lecture/go/server) too. Thousands of lines: valid and invalid ints, underscores,
// signs, whitespace with \r \v \f, numbers of 4300 digits and more, a
// counter past 4300 digits, lines of 16384 bytes and more, empty lines,
// bytes that are not ASCII, NUL, pipelining, lines cut across writes.
func TestPythonServerDifferential(t *testing.T) {
	needIntLimit(t)
	streams := genStreams()
	lines, size := 0, 0
	for _, s := range streams {
		lines += len(s.lines)
		size += len(s.bytes())
	}
	// The Python server's replies, once: the expected bytes.
	addr := startPeer(t, pyServer(t))
	var want [][]byte
	for _, s := range streams {
		want = append(want, exchange(t, addr, s.bytes(), cuts(s.seed)))
	}
	// That they cover what they must.
	all := bytes.Join(want, nil)
	replies := bytes.Split(bytes.TrimSuffix(all, []byte("\r\n")), []byte("\r\n"))
	var bad, huge int
	for _, l := range replies {
		if string(l) == "!!!!" {
			bad++
		}
		if len(l) > len("  --> ")+4300 {
			huge++
		}
	}
	if n := len(replies); n != lines+3 || n < 5000 || bad < n/10 || huge == 0 {
		t.Fatalf("the Python server gave %d replies to %d lines (+3 without LF), %d of them !!!!, %d past 4300 digits", n, lines, bad, huge)
	}
	t.Logf("%d lines, %d bytes; %d replies, %d of them !!!!, %d past 4300 digits", lines, size, len(replies), bad, huge)

	check := func(t *testing.T, addr string) {
		for i, s := range streams {
			got := exchange(t, addr, s.bytes(), cuts(s.seed))
			if !bytes.Equal(got, want[i]) {
				g := strings.Split(string(got), "\r\n")
				w := strings.Split(string(want[i]), "\r\n")
				in := append(append([]string(nil), s.lines...), s.tail)
				for j := 0; j < len(g) || j < len(w); j++ {
					var gj, wj, ij string
					if j < len(g) {
						gj = g[j]
					}
					if j < len(w) {
						wj = w[j]
					}
					if j < len(in) {
						ij = in[j]
					}
					if gj != wj {
						t.Fatalf("session %d, reply %d, to line %.60q:\n got  %.60q\n want %.60q (Python's)", i, j+1, ij, gj, wj)
					}
				}
			}
		}
	}
	t.Run("python-threaded", func(t *testing.T) { check(t, startPeer(t, pyThreadedServer(t))) })
	t.Run("go-twin", func(t *testing.T) { check(t, startPeer(t, goServer(t))) })
	forModes(t, server.Modes, func(t *testing.T, srv *server.Server) { check(t, srv.Addr().String()) })
}

// TestPeerThreadedServesTwoAtOnce: next week's socketserver server serves
// a second client while the first stays connected (the lab's server
// would not).
func TestPeerThreadedServesTwoAtOnce(t *testing.T) {
	addr := startPeer(t, pyThreadedServer(t))
	dialPeer := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(timeout))
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	first, r1 := dialPeer()
	roundTrip(t, first, r1, "1\n", "  --> 0")
	second, r2 := dialPeer()
	roundTrip(t, second, r2, "10\n", "  --> 1")
	roundTrip(t, first, r1, "1\n", "  --> 11")
}

// The C epoll server (lecture/c/epoll_server.c), make compare's
// yardstick: server.c's protocol in a one-thread epoll loop. Its tests
// hold it to the Go server's bytes where a long long suffices, to its own
// table where it does not, and to what a fetch-and-add must give when
// many clients pipeline at once.

// cEpollServer builds epoll_server.c (Linux only: epoll and accept4).
func cEpollServer(t *testing.T) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("epoll_server.c is Linux's (epoll, accept4)")
	}
	return []string{buildC(t, "epoll_server")}
}

// genInt64Streams makes sessions of lines on which the C servers and the
// Go server must agree, following the counter so that it stays within
// int64: numbers of every size up to int64's edges (and the counter at
// them), signs, leading zeros and whitespace around them, lines that are
// not numbers (garbage, NUL, bytes that are not ASCII, empty), lines of
// exactly 16384 bytes and of more, a last line without LF.
func genInt64Streams() []stream {
	r := rand.New(rand.NewPCG(64, 50007))
	var counter int64
	fits := func(v int64) bool {
		return v >= 0 && counter <= math.MaxInt64-v || v < 0 && counter >= math.MinInt64-v
	}
	// add returns v as a line, or a number that fits if v would not.
	add := func(v int64) int64 {
		if !fits(v) {
			v = -(counter / 2)
		}
		counter += v
		return v
	}
	ws := func() string {
		const spaces = " \t\v\f\r"
		b := make([]byte, r.IntN(3))
		for i := range b {
			b[i] = spaces[r.IntN(len(spaces))]
		}
		return string(b)
	}
	format := func(v int64) string {
		s := strconv.FormatInt(v, 10)
		if v >= 0 && r.IntN(4) == 0 {
			s = "+" + s
		}
		if r.IntN(8) == 0 { // leading zeros: "+007", "-007"
			i := strings.IndexAny(s, "0123456789")
			s = s[:i] + strings.Repeat("0", 1+r.IntN(3)) + s[i:]
		}
		return ws() + s + ws()
	}
	notNumbers := []string{"", " ", "\r", "+", "-", "_", "+-5", "--5", "- 5", "+ 5", "x", "0x10", "1e3", "1.5",
		"1 2", "12abc", "abc12", "\xd9\xa3", "\xef\xbc\x95", "\xc2\xa05", "5\xc2\xa0", "1\x00", "\x00", "\x001",
		"\x1c1", "1\x1f", "\xff\xfe", "\x80"}
	edges := []int64{math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 62, -1 << 62}
	line := func() string {
		switch k := r.IntN(100); {
		case k < 35:
			return format(add(int64(r.IntN(2001) - 1000)))
		case k < 45:
			return format(add(int64(r.Uint64())))
		case k < 55:
			return format(add(r.Int64N(2e15) - 1e15))
		case k < 60: // the counter to 0, then to one of int64's edges
			back := format(add(-counter))
			return back + "\n" + format(add(edges[r.IntN(len(edges))]))
		case k < 80:
			return notNumbers[r.IntN(len(notNumbers))]
		case k < 84: // bytes of any kind but LF, with an x: never a number
			b := make([]byte, 1+r.IntN(20))
			for i := range b {
				for b[i] = byte(r.IntN(256)); b[i] == '\n'; b[i] = byte(r.IntN(256)) {
				}
			}
			b[r.IntN(len(b))] = 'x'
			return string(b)
		case k < 87: // exactly 16384 bytes before the LF: still a line
			n := strconv.FormatInt(add(int64(r.IntN(1000))), 10)
			return strings.Repeat(" ", 16384-len(n)-1) + n + "\r"
		case k < 90: // 16385 bytes and more: too long
			return strings.Repeat(" ", 16385+r.IntN(3)*r.IntN(30000)) + "1"
		default:
			return "\r"
		}
	}
	var streams []stream
	for s := 0; s < 5; s++ {
		st := stream{seed: uint64(100 + s)}
		if s == 3 {
			streams = append(streams, st) // connects and leaves: no reply
			continue
		}
		for len(st.lines) < 1200 {
			st.lines = append(st.lines, strings.Split(line(), "\n")...)
		}
		switch s {
		case 1:
			st.tail = "  " + strconv.FormatInt(add(7), 10) + " " // answered at the end of stream
		case 2:
			st.tail = strings.Repeat("5", 20000) // too long, and no LF
		}
		streams = append(streams, st)
	}
	return streams
}

// TestCEpollServerGolden: the epoll server and the Go server (event mode)
// give the same bytes for the golden inputs within a long long, sent at
// once and cut into random writes, and for generated sessions of lines
// within int64 on one counter, pipelined and cut into random writes.
func TestCEpollServerGolden(t *testing.T) {
	argv := cEpollServer(t)
	int64Goldens := map[string]bool{"handout.in": true, "empty.in": true, "newlines.in": true, "noeol.in": true, "unicode.in": true, "utf8.in": true}
	for _, in := range goldens(t) {
		name := filepath.Base(in)
		if !int64Goldens[name] {
			continue
		}
		input, _ := readGolden(t, in)
		for _, cut := range []string{"at once", "cut"} {
			t.Run(name+"/"+cut, func(t *testing.T) {
				var c func(int) int
				if cut == "cut" {
					c = cuts(uint64(len(input)))
				}
				want := exchange(t, startServer(t, server.Event, "127.0.0.1:0").Addr().String(), input, c)
				if cut == "cut" {
					c = cuts(uint64(len(input)))
				}
				got := exchange(t, startPeer(t, argv), input, c)
				if !bytes.Equal(got, want) {
					t.Fatalf("replies differ from the Go server's:\n got  %.200q\n want %.200q", got, want)
				}
			})
		}
	}
	t.Run("generated", func(t *testing.T) {
		goAddr := startServer(t, server.Event, "127.0.0.1:0").Addr().String()
		cAddr := startPeer(t, argv)
		var numbers, bad, edges int
		for i, s := range genInt64Streams() {
			want := exchange(t, goAddr, s.bytes(), cuts(s.seed))
			got := exchange(t, cAddr, s.bytes(), cuts(s.seed))
			g, w := strings.Split(string(got), "\r\n"), strings.Split(string(want), "\r\n")
			in := append(append([]string(nil), s.lines...), s.tail)
			for j := 0; j < len(g) || j < len(w); j++ {
				var gj, wj, ij string
				if j < len(g) {
					gj = g[j]
				}
				if j < len(w) {
					wj = w[j]
				}
				if j < len(in) {
					ij = in[j]
				}
				if gj != wj {
					t.Fatalf("session %d, reply %d, to line %.60q:\n got  %.60q\n want %.60q (the Go server's)", i, j+1, ij, gj, wj)
				}
				switch {
				case wj == "!!!!":
					bad++
				case strings.HasPrefix(wj, "  --> "):
					numbers++
					if v := strings.TrimPrefix(wj, "  --> "); len(strings.TrimPrefix(v, "-")) == 19 {
						edges++
					}
				}
			}
		}
		// That they cover what they must: both kinds of reply, and the
		// counter at 19 digits, near int64's edges.
		if numbers < 2000 || bad < 500 || edges < 50 {
			t.Fatalf("only %d numbers, %d !!!!, %d values of 19 digits", numbers, bad, edges)
		}
		t.Logf("%d numbers, %d !!!!, %d values of 19 digits", numbers, bad, edges)
	})
}

// TestCEpollServerDifferences checks each row of the table in
// lecture/c/epoll_server.c's header comment: where its long long and
// strtoll differ from the Go server's (and Python's) numbers of any size.
// Each row runs on a fresh epoll server, a fresh server.c, whose rules it
// copies, and a fresh Go server.
func TestCEpollServerDifferences(t *testing.T) {
	rows := []struct {
		what, send string
		c, goPy    []string
	}{
		{"number past int64", "9223372036854775808\n1\n",
			[]string{"!!!!", "  --> 0"},
			[]string{"  --> 0", "  --> 9223372036854775808"}},
		{"counter past int64", "9223372036854775807\n1\n-1\n",
			[]string{"  --> 0", "!!!!", "  --> 9223372036854775807"},
			[]string{"  --> 0", "  --> 9223372036854775807", "  --> 9223372036854775808"}},
		{"counter below int64", "-9223372036854775808\n-1\n1\n",
			[]string{"  --> 0", "!!!!", "  --> -9223372036854775808"},
			[]string{"  --> 0", "  --> -9223372036854775808", "  --> -9223372036854775809"}},
		{"underscores", "1_000\n1\n",
			[]string{"!!!!", "  --> 0"},
			[]string{"  --> 0", "  --> 1000"}},
		{"over 4300 digits", strings.Repeat("0", 4301) + "7\n1\n",
			[]string{"  --> 0", "  --> 7"},
			[]string{"!!!!", "  --> 0"}},
	}
	argv := cEpollServer(t)
	table := headerTable(t, filepath.Join("lecture", "c", "epoll_server.c"))
	if len(table) != len(rows) {
		t.Errorf("epoll_server.c's table has %d rows %q; the test checks %d", len(table), table, len(rows))
	}
	iterative := cServer(t)
	for i, row := range rows {
		t.Run(row.what, func(t *testing.T) {
			if i < len(table) && table[i] != row.what {
				t.Errorf("epoll_server.c's table row %d is %q, want %q", i+1, table[i], row.what)
			}
			join := func(r []string) string { return strings.Join(r, "\r\n") + "\r\n" }
			if got := exchange(t, startPeer(t, argv), []byte(row.send), nil); string(got) != join(row.c) {
				t.Errorf("C epoll server: got %.120q, want %q", got, join(row.c))
			}
			if got := exchange(t, startPeer(t, iterative), []byte(row.send), nil); string(got) != join(row.c) {
				t.Errorf("C iterative server (server.c): got %.120q, want %q", got, join(row.c))
			}
			if got := exchange(t, startServer(t, server.Event, "127.0.0.1:0").Addr().String(), []byte(row.send), nil); string(got) != join(row.goPy) {
				t.Errorf("Go server: got %.120q, want %q", got, join(row.goPy))
			}
		})
	}
}

// headerTable returns the first column of the first table in a C file's
// header comment: the rows between a line starting "what " and the next
// empty line.
func headerTable(t *testing.T, file string) []string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	in := false
	for _, l := range strings.Split(string(src), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(l, " *"))
		switch {
		case !in && strings.HasPrefix(l, "what "):
			in = true
		case in && l == "":
			return table
		case in:
			table = append(table, regexp.MustCompile(`\s{2,}`).Split(l, 2)[0])
		}
	}
	return table
}

// TestCEpollServerConcurrent: eight connections, opened first, pipeline
// 3,000 lines each at once, cut into random writes, positive adds among
// lines that are not numbers. Each connection's replies come in order
// (its values rising, "!!!!" where its lines were not numbers), and the
// adds of all of them, sorted by the value before each, tile [0, sum)
// with no gap and no overlap: each add happened once, alone. Then the
// load generator's own check (50 connections, 32 deep: every reply a
// different value), and the counter at the sum of it all.
func TestCEpollServerConcurrent(t *testing.T) {
	addr := startPeer(t, cEpollServer(t))
	const conns, lines = 8, 3000
	r := rand.New(rand.NewPCG(8, 50007))
	inputs := make([][]byte, conns)
	adds := make([][]int64, conns) // per line: the add, or 0 for a line that is not a number
	var sum int64
	for i := range inputs {
		var b bytes.Buffer
		for j := 0; j < lines; j++ {
			if r.IntN(10) == 0 {
				b.WriteString([]string{"x", "", " +", "1_0", "9223372036854775808"}[r.IntN(5)] + "\n")
				adds[i] = append(adds[i], 0)
				continue
			}
			n := 1 + r.Int64N(1000)
			fmt.Fprintf(&b, "%d\n", n)
			adds[i] = append(adds[i], n)
			sum += n
		}
		inputs[i] = b.Bytes()
	}
	cs := make([]*net.TCPConn, conns)
	for i := range cs {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs[i] = c.(*net.TCPConn)
	}
	got := make([][]byte, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], errs[i] = exchangeConn(cs[i], inputs[i], cuts(uint64(i)))
		}(i)
	}
	testwait.Group(t, &wg, "the connections")
	type span struct{ before, n int64 }
	var spans []span
	for i := range cs {
		if errs[i] != nil {
			t.Fatalf("connection %d: %v", i, errs[i])
		}
		replies := strings.Split(strings.TrimSuffix(string(got[i]), "\r\n"), "\r\n")
		if len(replies) != lines {
			t.Fatalf("connection %d: %d replies to %d lines", i, len(replies), lines)
		}
		last := int64(-1)
		for j, rep := range replies {
			if adds[i][j] == 0 {
				if rep != "!!!!" {
					t.Fatalf("connection %d, reply %d to a line that is not a number: %q", i, j+1, rep)
				}
				continue
			}
			v, err := strconv.ParseInt(strings.TrimPrefix(rep, "  --> "), 10, 64)
			if err != nil || !strings.HasPrefix(rep, "  --> ") || v <= last {
				t.Fatalf("connection %d, reply %d: %q after %d (its values must rise)", i, j+1, rep, last)
			}
			last = v
			spans = append(spans, span{v, adds[i][j]})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.before, b.before) })
	next := int64(0)
	for _, s := range spans {
		if s.before != next {
			t.Fatalf("an add of %d saw %d, want %d: the adds do not tile [0, %d)", s.n, s.before, next, sum)
		}
		next += s.n
	}
	if next != sum {
		t.Fatalf("the adds reach %d, want %d", next, sum)
	}
	if got := exchange(t, addr, []byte("0\n"), nil); string(got) != fmt.Sprintf("  --> %d\r\n", sum) {
		t.Fatalf("the counter: %q, want %d", got, sum)
	}

	res, err := bench.Run(bench.Config{Addr: addr, Conns: 50, Depth: 32, Requests: 20000, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 20000 || res.Errors != 0 || !res.Distinct || res.Base != sum {
		t.Fatalf("fetchadd bench: requests %d errors %d distinct %v base %d; want 20000, 0, true, %d", res.Requests, res.Errors, res.Distinct, res.Base, sum)
	}
	if got := exchange(t, addr, []byte("0\n"), nil); string(got) != fmt.Sprintf("  --> %d\r\n", sum+20000) {
		t.Fatalf("the counter after fetchadd bench: %q, want %d", got, sum+20000)
	}
}

// exchangeConn is exchange on a connection already open, returning its
// error instead of failing the test, so that many can run at once.
func exchangeConn(c *net.TCPConn, input []byte, cuts func(int) int) ([]byte, error) {
	c.SetDeadline(time.Now().Add(3 * timeout))
	c.SetNoDelay(true)
	wrote := make(chan error, 1)
	go func() {
		for p := input; len(p) > 0; {
			n := min(cuts(len(p)), len(p))
			if _, err := c.Write(p[:n]); err != nil {
				wrote <- err
				return
			}
			p = p[n:]
		}
		wrote <- c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	select {
	case werr := <-wrote:
		if err == nil {
			err = werr
		}
	case <-time.After(testwait.Timeout):
		err = fmt.Errorf("the writes did not end within %v", testwait.Timeout)
	}
	return got, err
}

// TestCEpollServerUnreadReplies: a client that sends and does not read
// its replies makes the epoll server stop reading it once more than 64
// KiB of them wait (the client's writes stop making progress long before
// 32 MiB), without holding up another client; once it reads, every reply
// comes, in order, the part the socket did not take at first included.
func TestCEpollServerUnreadReplies(t *testing.T) {
	addr := startPeer(t, cEpollServer(t))
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Send until the server stops taking requests. A short write
	// deadline returns what a write took so far: it watches progress,
	// it synchronises nothing.
	const most = 32 << 20
	chunk := []byte(strings.Repeat("1\n", 32<<10))
	sent := 0
	for start := time.Now(); ; {
		if sent >= most || time.Since(start) > timeout {
			t.Fatalf("the server still takes requests after %d bytes: it reads a client that does not read its replies", sent)
		}
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Write(chunk)
		sent += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Another client is served meanwhile (the counter is wherever the
	// first one's lines have brought it; 0 adds nothing).
	other := exchange(t, addr, []byte("0\n"), nil)
	if !regexp.MustCompile(`^  --> [0-9]+\r\n$`).Match(other) {
		t.Fatalf("another client got %q", other)
	}
	// Now read: a reply for each "1", the last one cut off by the
	// deadline answered at the end of stream.
	c.SetDeadline(time.Now().Add(3 * timeout))
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("after %d bytes of replies: %v", len(got), err)
	}
	want := (sent + 1) / 2
	var line []byte
	for i := 0; i < want; i++ {
		line = append(strconv.AppendInt(append(line[:0], "  --> "...), int64(i), 10), "\r\n"...)
		if !bytes.HasPrefix(got, line) {
			t.Fatalf("reply %d of %d: %.40q, want %q", i+1, want, got, line)
		}
		got = got[len(line):]
	}
	if len(got) > 0 {
		t.Fatalf("%d replies, then %.40q", want, got)
	}
	t.Logf("%d bytes of requests sent before the server stopped taking them; %d replies", sent, want)
}

// TestPeerServersReset: a client that resets its connection in the middle
// of a line (the start of one, no LF) leaves the counter as it was: a
// line is answered, and added, only when its LF or the end of the stream
// (FIN) says it is whole. The next client finds the counter at 0. The
// peer servers, and fetchadd's iterative server beside them.
func TestPeerServersReset(t *testing.T) {
	peer := func(argv func(*testing.T) []string) func(*testing.T) string {
		return func(t *testing.T) string { return startPeer(t, argv(t)) }
	}
	servers := []struct {
		name  string
		start func(*testing.T) string
	}{
		{"go", peer(goServer)}, {"c", peer(cServer)}, {"python", peer(pyServer)},
		{"fetchadd", func(t *testing.T) string { return startServer(t, server.Iterative, "127.0.0.1:0").Addr().String() }},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			addr := s.start(t)
			c, err := net.DialTimeout("tcp", addr, timeout)
			if err != nil {
				t.Fatal(err)
			}
			tc := c.(*net.TCPConn)
			tc.SetDeadline(time.Now().Add(timeout))
			// A line first, answered: the server has taken this client
			// and is reading it when the rest comes.
			roundTrip(t, tc, bufio.NewReader(tc), "0\n", "  --> 0")
			tc.Write([]byte("12"))
			tc.SetLinger(0) // close sends RST, not FIN
			tc.Close()
			if got := exchange(t, addr, []byte("0\n"), nil); string(got) != "  --> 0\r\n" {
				t.Fatalf("after a client reset in the middle of a line: %q, want %q", got, "  --> 0\r\n")
			}
		})
	}
}
