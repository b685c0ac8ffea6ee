//go:build !race

// The race detector slows a program so much under ptrace that the
// server's stop can pass its one-second bound; this test runs without it
// (.ci/run runs it on its own, after make test).

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// straceCalls are the system calls sock/ makes, the ones compared.
const straceCalls = "eventfd2,socket,setsockopt,getsockopt,bind,listen,accept4,connect,getsockname,read,recvfrom,sendto,write,shutdown,close,fcntl,pipe2,ppoll,epoll_create1,epoll_ctl,epoll_wait,epoll_pwait"

// TestTraceMatchesStrace runs the server under strace -f with -trace on,
// drives a client session, and checks that -trace printed the same calls
// as strace, in the same order, with the same arguments and results.
func TestTraceMatchesStrace(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("strace is Linux's")
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (.ci/run installs it)")
	}
	for _, mode := range []string{"iterative", "event"} {
		t.Run(mode, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "strace.txt")
			traced := tracedServer(t, mode, strace, "-f", "-qq", "-s", "64", "-e", "trace="+straceCalls, "-e", "signal=none", "-o", out)
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			// Two threads' calls that end at the same moment can be printed
			// in either order by strace and by -trace (the server's Stop
			// runs on the signal goroutine's thread while the serving
			// thread's accept or epoll_wait returns); thread ids cannot pin
			// them down, because a goroutine may move to another thread
			// between its system call and its trace line. So two
			// neighbouring calls may swap places; nothing else may differ.
			got := normalize(traced)
			want := runtimeCalls(normalize(straceLines(string(raw))), got)
			// Stop runs on the signal goroutine's thread, beside the
			// serving thread: its calls (shutdown, and a byte written to
			// each loop's wake pipe) may land anywhere among the serving
			// thread's last calls. They are compared as a set; the rest,
			// one thread's story, in order.
			var gotStop, wantStop []string
			got, gotStop = splitStop(got)
			want, wantStop = splitStop(want)
			slices.Sort(gotStop)
			slices.Sort(wantStop)
			if !slices.Equal(gotStop, wantStop) {
				t.Fatalf("Stop's calls differ:\n strace: %q\n -trace: %q", wantStop, gotStop)
			}
			for i := 0; i < len(want) || i < len(got); i++ {
				var w, g string
				if i < len(want) {
					w = want[i]
				}
				if i < len(got) {
					g = got[i]
				}
				if w != g && i+1 < len(want) && i+1 < len(got) && want[i+1] == g && got[i+1] == w {
					i++ // a swapped pair
					continue
				}
				if w != g {
					t.Fatalf("call %d differs:\n strace: %s\n -trace: %s\n(strace said %d calls, -trace %d)", i+1, w, g, len(want), len(got))
				}
			}
			compared := len(want)
			if compared < 15 {
				t.Fatalf("only %d calls compared", compared)
			}
		})
	}
}

var (
	pidPrefix = regexp.MustCompile(`^(\[pid +\d+\] |\d+ +)`)
	resultSep = regexp.MustCompile(`\) += `)
	unfinish  = regexp.MustCompile(` <unfinished \.\.\.>$`)
	resumed   = regexp.MustCompile(`^<\.\.\. (\w+) resumed>`)
	restarted = regexp.MustCompile(`= \? (ERESTARTSYS|ERESTARTNOINTR) `)
)

// straceLines turns strace's output into one line per call of sock/, in
// the order the calls returned, as -trace prints them, "[pid TID] call":
//   - a call that blocked is split by strace -f into "<unfinished ...>"
//     and "<... resumed>"; the two halves are joined, at the point where
//     the call returned;
//   - calls before the first socket() are the Go runtime's start-up;
//   - write(2, ...) is the log and the trace itself, on stderr;
//   - getsockopt(SO_PROTOCOL) is made by x/sys inside Accept4 and
//     Getsockname, to tell TCP addresses from L2TP ones: not a sock/ call;
//   - a call a signal interrupted that the kernel restarted by itself
//     (ERESTARTSYS under SA_RESTART, which the Go runtime sets, or
//     ERESTARTNOINTR) is one call to the program, which sees only the
//     restarted one's result; strace shows the interrupted half too,
//     with "= ? ERESTARTSYS": a blocking accept that the runtime's
//     preemption signal (SIGURG) hits, which load makes likelier;
//
// The Go runtime's own network poller, which it starts the first time
// the program sets a timer, makes epoll calls too, and reads an eventfd
// to wake itself; the caller drops those with runtimeCalls.
func straceLines(raw string) []string {
	pending := map[string]string{} // pid+call -> the unfinished first half
	var calls []string
	started := false
	for _, line := range strings.Split(raw, "\n") {
		pid := ""
		if m := pidPrefix.FindString(line); m != "" {
			pid = strings.TrimSpace(strings.Trim(m, "[]pid "))
			line = line[len(m):]
		}
		if line == "" {
			continue
		}
		if unfinish.MatchString(line) {
			first := unfinish.ReplaceAllString(line, "")
			pending[pid+" "+first[:strings.IndexByte(first, '(')]] = first
			continue
		}
		if m := resumed.FindStringSubmatch(line); m != nil {
			line = pending[pid+" "+m[1]] + line[len(m[0]):]
		}
		if strings.HasPrefix(line, "socket(") {
			started = true
		}
		if creates.MatchString(line) { // runtimeCalls needs to see them all
			calls = append(calls, "[pid "+pid+"] "+line)
			continue
		}
		if !started || strings.HasPrefix(line, "write(2,") || strings.Contains(line, "SO_PROTOCOL") || strings.HasSuffix(line, "= ?") || restarted.MatchString(line) || strings.HasPrefix(line, "ppoll(NULL, 0,") {
			continue
		}
		calls = append(calls, "[pid "+pid+"] "+line)
	}
	return calls
}

// normalize makes lines comparable: no thread prefix, one space around
// "=". Buffer addresses (which strace shows for failed reads and
// accepts) stay: -trace must show the address the kernel was given.
func normalize(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.TrimRight(pidPrefix.ReplaceAllString(l, ""), "\n")
		l = resultSep.ReplaceAllString(l, ") = ")
		out = append(out, l)
	}
	return out
}

var (
	fdArg    = regexp.MustCompile(`^(?:\[pid +\d+\] )?\w+\((\d+)`)
	fdResult = regexp.MustCompile(`= (\d+)$`)
	creates  = regexp.MustCompile(`^(?:\[pid +\d+\] )?(epoll_create1|eventfd2)\(`)
)

// runtimeCalls drops the Go runtime's network poller from strace's calls:
// an epoll_create1 or eventfd2 that -trace never printed made one of the
// runtime's descriptors, and every later call on it is the runtime's (the
// runtime never closes it; an earlier call on the same number was ours).
func runtimeCalls(strace, traced []string) []string {
	ours := map[string]bool{}
	for _, l := range traced {
		ours[pidPrefix.ReplaceAllString(l, "")] = true
	}
	runtimeFds := map[string]bool{}
	var out []string
	for _, l := range strace {
		call := pidPrefix.ReplaceAllString(l, "")
		if creates.MatchString(call) && !ours[call] {
			if m := fdResult.FindStringSubmatch(call); m != nil {
				runtimeFds[m[1]] = true
			}
			continue
		}
		if m := fdArg.FindStringSubmatch(call); m != nil && runtimeFds[m[1]] {
			continue
		}
		out = append(out, l)
	}
	return out
}

// splitStop separates the calls Stop makes (shutdown, write) from the rest.
func splitStop(calls []string) (rest, stop []string) {
	for _, c := range calls {
		if strings.HasPrefix(c, "shutdown(") || strings.HasPrefix(c, "write(") {
			stop = append(stop, c)
		} else {
			rest = append(rest, c)
		}
	}
	return rest, stop
}

// TestStraceRestartedCall: a call the kernel restarted after a signal is
// one call, as the program saw it, whether strace showed it whole or in
// halves around another thread's call.
func TestStraceRestartedCall(t *testing.T) {
	raw := strings.Join([]string{
		"[pid 10] socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3",
		"[pid 10] accept4(3, 0x2161849aa100, [112], SOCK_CLOEXEC) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)",
		"[pid 10] accept4(3, <unfinished ...>",
		"[pid 11] close(7) = 0",
		"[pid 10] <... accept4 resumed>0x2161849aa100, [112], SOCK_CLOEXEC) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)",
		`[pid 10] accept4(3, {sa_family=AF_INET, sin_port=htons(58044), sin_addr=inet_addr("127.0.0.1")}, [112 => 16], SOCK_CLOEXEC) = 6`,
	}, "\n")
	got := normalize(straceLines(raw))
	want := []string{
		"socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3",
		"close(7) = 0",
		`accept4(3, {sa_family=AF_INET, sin_port=htons(58044), sin_addr=inet_addr("127.0.0.1")}, [112 => 16], SOCK_CLOEXEC) = 6`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
