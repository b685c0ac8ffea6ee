package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// normalize turns a transcript into what must be the same from one run to
// the next. Only what varies between runs of the same code is replaced:
//
//   - strace's halves of a call cut by another thread's line
//     ("<unfinished ...>", "<... resumed>") are joined, and the calls a
//     signal interrupted and that were started again ("= ? ERESTARTSYS"
//     and the like under strace, "= -1 EINTR" in -trace), and the uring
//     loop's waits that submitted nothing and returned with nothing
//     ("io_uring_enter(8, 0, 1, ...) = 0"), are dropped:
//     where the threads' calls meet, and when the runtime's own signals
//     come, are a matter of timing (the transcript the notes explain
//     shows the SIGINT's, and the tool makes it again until it does);
//   - strace's "???( <detached ...>", a thread that the process's exit
//     ended inside a call strace does not trace (a futex, say), so that
//     it never learnt which: whether a thread is inside one as the
//     process exits is timing (one run in eight of strace-session, on a
//     loaded machine);
//   - process and thread ids, socket inode numbers, pointers, the
//     scenario's temporary directory, the peer's address that
//     getsockopt(SO_PEERNAME) returns as bytes (its port is the client's);
//   - port numbers: each becomes P1, P2, ... in the order they first
//     appear, so that which connection is which still has to match;
//   - dates and times, time left (ppoll's "left {...}"), the timeouts the
//     poll and event loops compute from the clock (the next look for idle
//     connections), all but main's one second;
//   - TCP's initial sequence numbers and timestamps;
//   - runs of spaces (strace and ss align columns by the width of the
//     numbers above);
//   - and, where a scenario says so (unordered), the order of lines made
//     by several threads at once, such as a server's calls while it
//     stops: those lines are compared as a set.
func normalize(text string, unordered []*regexp.Regexp) []string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	lines = joinStrace(lines)
	var out []string
	for _, l := range lines {
		if interrupted.MatchString(l) || detached.MatchString(l) {
			continue
		}
		out = append(out, l)
	}
	lines = out
	for i, l := range lines {
		l = straceTid.ReplaceAllString(l, "${1}TID${2}")
		l = bracketTid.ReplaceAllString(l, "[pid TID]")
		l = pidWord.ReplaceAllString(l, "pid PID")
		l = pidEquals.ReplaceAllString(l, "pid=PID")
		l = procPid.ReplaceAllString(l, "/proc/PID/")
		l = inode.ReplaceAllString(l, "$1:[INODE]")
		l = pointer.ReplaceAllString(l, "PTR")
		l = peerName.ReplaceAllString(l, "${1}ADDR${2}")
		l = dateTime.ReplaceAllString(l, "DATE TIME")
		l = tmpDir.ReplaceAllString(l, "DIR")
		l = tmpName.ReplaceAllString(l, ".tmp.RANDOM")
		l = timeLeft.ReplaceAllString(l, "left {TIME}")
		l = waitTimeout.ReplaceAllString(l, "${1}MS)")
		l = pollTimeout.ReplaceAllStringFunc(l, func(t string) string {
			if t == "{tv_sec=1, tv_nsec=0}" { // main's one-second bound on stopping
				return t
			}
			return "{TIME}"
		})
		l = tcpTS.ReplaceAllString(l, "TS val N ecr N")
		if strings.Contains(l, "Flags [S") {
			l = isn.ReplaceAllString(l, "$1 ISN")
		}
		lines[i] = l
	}
	lines = renamePorts(lines)
	for i, l := range lines {
		lines[i] = strings.TrimSpace(spaces.ReplaceAllString(l, " "))
	}
	for _, re := range unordered {
		lines = sortRegion(lines, re)
	}
	return lines
}

var (
	interrupted = regexp.MustCompile(`= \? (ERESTARTSYS|ERESTARTNOINTR|ERESTARTNOHAND|ERESTART_RESTARTBLOCK)\b|= -1 EINTR \(Interrupted system call\)$|io_uring_enter\(\d+, 0, 1, .*\) += 0$`)
	detached    = regexp.MustCompile(`^(?:\[pid +\d+\] |\d+ +)?\?\?\?\( <detached \.\.\.>$`)
	straceTid   = regexp.MustCompile(`^(\s*)\d+( +([a-z_0-9]+\(|<\.\.\. |\+\+\+ |--- ))`)
	bracketTid  = regexp.MustCompile(`\[pid +\d+\]`)
	pidWord     = regexp.MustCompile(`\bpid \d+\b`)
	pidEquals   = regexp.MustCompile(`\bpid=\d+\b`) // ss -p's users:(("fetchadd",pid=N,fd=3))
	procPid     = regexp.MustCompile(`/proc/\d+/`)
	inode       = regexp.MustCompile(`\b(TCP|TCPv6|UDP|UDPv6|UNIX|UNIX-STREAM|NETLINK|pipe|socket|anon_inode):\[\d+\]`)
	pointer     = regexp.MustCompile(`\b0x[0-9a-f]{8,}\b`)
	peerName    = regexp.MustCompile(`(SO_PEERNAME, )"(?:[^"\\]|\\.)*"(, \[\d+\])`)
	tmpDir      = regexp.MustCompile(`(/[\w.-]+)*/notes\d+\b`)
	tmpName     = regexp.MustCompile(`\.tmp\.[0-9a-z]+\b`) // the state file's temporary name (state/open.go)
	dateTime    = regexp.MustCompile(`\b\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\b`)
	timeLeft    = regexp.MustCompile(`left \{tv_sec=\d+, tv_nsec=\d+\}`)
	waitTimeout = regexp.MustCompile(`(epoll_wait\(.*, \d+, )\d{3,}\)`)
	pollTimeout = regexp.MustCompile(`\{tv_sec=\d+, tv_nsec=\d+\}`)
	tcpTS       = regexp.MustCompile(`TS val \d+ ecr \d+`)
	isn         = regexp.MustCompile(`\b(seq|ack) \d+`)
	spaces      = regexp.MustCompile(`\s+`)
)

// joinStrace joins the two halves of calls that strace -f cut in two
// because another thread's call ended in between. The whole call takes the
// place of its second half, where strace would have printed it had it not
// been cut.
func joinStrace(lines []string) []string {
	type half struct {
		text string
		used bool // joined to its second half, printed there
	}
	pending := map[string]int{} // tid -> index of the unfinished half
	var out []half
	for _, l := range lines {
		if unknownCall.MatchString(l) {
			continue // a thread caught by the process's exit in a call strace cannot name
		}
		if m := unfinished.FindStringSubmatch(l); m != nil {
			pending[m[2]+m[3]] = len(out)
			out = append(out, half{text: strings.TrimRight(strings.TrimSuffix(l, "<unfinished ...>"), " ")})
			continue
		}
		if m := resumed.FindStringSubmatch(l); m != nil {
			if i, ok := pending[m[2]+m[3]]; ok {
				delete(pending, m[2]+m[3])
				first, rest := out[i].text, m[5]
				if strings.HasSuffix(first, ",") && !strings.HasPrefix(rest, " ") {
					first += " "
				}
				out[i].used = true
				out = append(out, half{text: first + rest})
				continue
			}
		}
		out = append(out, half{text: l})
	}
	var joined []string
	for i, h := range out {
		switch {
		case h.used:
		case slices.Contains(mapValues(pending), i):
			joined = append(joined, h.text+" <unfinished ...>") // never resumed
		default:
			joined = append(joined, h.text)
		}
	}
	return joined
}

func mapValues(m map[string]int) []int {
	var v []int
	for _, i := range m {
		v = append(v, i)
	}
	return v
}

var (
	unfinished  = regexp.MustCompile(`^(\[pid +(\d+)\] |(\d+) +)?.*<unfinished \.\.\.>$`)
	resumed     = regexp.MustCompile(`^(\[pid +(\d+)\] |(\d+) +)?<\.\.\. (\w+) resumed>(.*)$`)
	unknownCall = regexp.MustCompile(`^(\[pid +\d+\] |\d+ +)?\?\?\?\( <unfinished \.\.\.>$`)
)

// Where port numbers are: strace's htons(N), ADDRESS:N (ss, logs), the
// dotted ADDRESS.N of tcpdump, "port N" (nc), Python's ('127.0.0.1', N),
// bind(("::", N)), and the port argument of nc and the lecture's programs.
var portContexts = []*regexp.Regexp{
	regexp.MustCompile(`htons\((\d+)\)`),
	regexp.MustCompile(`(?:\d+\.\d+\.\d+\.\d+|\*|\]|localhost):(\d+)\b`),
	regexp.MustCompile(`\b\d+\.\d+\.\d+\.\d+\.(\d+)\b`),
	regexp.MustCompile(`\bport (\d+)\b`),
	regexp.MustCompile(`'[0-9a-f.:]+', (\d+)[,)]`),
	regexp.MustCompile(`\(\("[0-9a-f.:]*", (\d+)\)\)`),
	regexp.MustCompile(`\b(?:nc|peer-[a-z-]+) (?:-[A-Za-z]+ )*(?:\d+\.\d+\.\d+\.\d+|[a-z0-9.-]+) (\d+)\b`),
	regexp.MustCompile(`\bpeer-[a-z-]+-server (\d+)\b`),
	regexp.MustCompile(`\bPORT = (\d+)\b`),
	regexp.MustCompile(`sport = :(\d+)|dport = :(\d+)`),
}

// renamePorts replaces every port number, wherever it stands, with P1,
// P2, ... in the order of first appearance.
func renamePorts(lines []string) []string {
	names := map[string]string{}
	for _, l := range lines {
		type hit struct {
			at   int
			port string
		}
		var hits []hit
		for _, re := range portContexts {
			for _, m := range re.FindAllStringSubmatchIndex(l, -1) {
				for g := 2; g+1 < len(m); g += 2 {
					if m[g] >= 0 {
						hits = append(hits, hit{m[g], l[m[g]:m[g+1]]})
					}
				}
			}
		}
		slices.SortFunc(hits, func(a, b hit) int { return a.at - b.at })
		for _, h := range hits {
			if n, err := strconv.Atoi(h.port); err != nil || n < 1024 || n > 65535 {
				continue
			}
			if _, ok := names[h.port]; !ok {
				names[h.port] = "P" + strconv.Itoa(len(names)+1)
			}
		}
	}
	if len(names) == 0 {
		return lines
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = number.ReplaceAllStringFunc(l, func(s string) string {
			if n, ok := names[s]; ok {
				return n
			}
			return s
		})
	}
	return out
}

var number = regexp.MustCompile(`\b\d+\b`)

// sortRegion sorts the lines from the first one re matches to the end of
// its section: the next command ("$ ") or narration ("# ") line.
func sortRegion(lines []string, re *regexp.Regexp) []string {
	start := slices.IndexFunc(lines, re.MatchString)
	if start < 0 {
		return lines
	}
	end := start + 1
	for end < len(lines) && !strings.HasPrefix(lines[end], "$ ") && !strings.HasPrefix(lines[end], "# ") {
		end++
	}
	out := slices.Clone(lines)
	slices.Sort(out[start:end])
	return out
}
