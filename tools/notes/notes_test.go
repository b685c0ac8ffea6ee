package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// notes reads the files of the notes (README.md, NOTES.md, docs/*.md), with
// their blocks.
func notes(t *testing.T) (root string, docs []*doc) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := allDocs(root)
	if err != nil {
		t.Fatal(err)
	}
	if docs, err = readDocs(root, files); err != nil {
		t.Fatal(err)
	}
	return root, docs
}

// transcript is transcript name of the notes, and the file it is in.
func transcript(t *testing.T, docs []*doc, name string) (*doc, block) {
	t.Helper()
	for _, d := range docs {
		for _, b := range d.blocks {
			if b.kind == "transcript" && b.name == name {
				return d, b
			}
		}
	}
	t.Fatalf("the notes have no transcript %s", name)
	return nil, block{}
}

// TestEditedTranscriptFails makes the check run on a copy of the file of
// the notes that holds transcript local, in which one line of it is
// edited, as by hand: it must fail, naming the file, the transcript and
// the line; the copy as it is must pass; the copy given twice must fail,
// the transcript being in two files.
func TestEditedTranscriptFails(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the transcripts are made on Linux")
	}
	root, docs := notes(t)
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "fetchadd"), root).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	d, local := transcript(t, docs, "local")
	edited := slices.Clone(d.lines)
	at := -1
	for i := local.start; i < local.end; i++ {
		if strings.Contains(d.lines[i], "--> 5") {
			at = i
		}
	}
	if at < 0 {
		t.Fatal(`the local transcript has no "--> 5" line to edit`)
	}
	edited[at] = strings.Replace(d.lines[at], "--> 5", "--> 6", 1)

	check := func(copies int, lines []string) (string, error) {
		var files []docFile
		for i := 0; i < copies; i++ {
			path := filepath.Join(t.TempDir(), filepath.Base(d.name))
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Its name in the repository: links in it are relative to it.
			files = append(files, docFile{name: d.name, path: path})
		}
		var out bytes.Buffer
		err := run(options{root: root, files: files, check: true, only: []string{"local"}, bin: bin, out: &out})
		return out.String(), err
	}
	if out, err := check(1, d.lines); err != nil {
		t.Fatalf("the check fails on %s as it is: %v\n%s", d.name, err, out)
	}
	out, err := check(1, edited)
	if err == nil {
		t.Fatalf("the check passed %s with a transcript line edited (%q)\n%s", d.name, edited[at], out)
	}
	for _, want := range []string{d.name + ": transcript local", "- Enter next number: --> 6", "+ Enter next number: --> 5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the check's error does not say %q:\n%v", want, err)
		}
	}
	if _, err := check(2, d.lines); err == nil || !strings.Contains(err.Error(), "transcript local appears twice") {
		t.Errorf("a transcript in two files: %v", err)
	}
}

// TestVariationIsNormalised: a transcript whose pids, ports, inodes,
// pointers and times differ from NOTES.md's is the same transcript; one
// whose calls differ is not.
func TestVariationIsNormalised(t *testing.T) {
	_, docs := notes(t)
	for _, name := range []string{"strace-session", "packets", "lab-lesson", "trace-uring", "ctrl-z"} {
		_, b := transcript(t, docs, name)
		s := scenarioByName(name)
		stored := made{summary: b.summary, lines: b.body}
		if d := compare(s, b, stored); d != "" {
			t.Fatalf("%s differs from itself:\n%s", name, d)
		}
		// Another run: every number in a varying place changes.
		other := anotherRun(b.body)
		if d := compare(s, b, made{summary: b.summary, lines: other}); d != "" {
			t.Errorf("%s: a run that differs only in what varies between runs is reported:\n%s", name, d)
		}
		// A thread the exit ended inside an untraced call: timing.
		if name == "strace-session" {
			exited := slices.Insert(slices.Clone(other), len(other)-2, "31782 ???( <detached ...>")
			if d := compare(s, b, made{summary: b.summary, lines: exited}); d != "" {
				t.Errorf("%s: a thread detached at the exit is reported:\n%s", name, d)
			}
		}
		// A call that is not the code's: must be caught.
		changed := slices.Clone(b.body)
		for i, l := range changed {
			if strings.Contains(l, "SO_REUSEADDR") || strings.Contains(l, "Flags [P.]") {
				changed[i] = strings.Replace(strings.Replace(l, "SO_REUSEADDR", "SO_REUSEPORT", 1), "Flags [P.]", "Flags [.]", 1)
				break
			}
		}
		if compare(s, b, made{summary: b.summary, lines: changed}) == "" && !slices.Equal(changed, b.body) {
			t.Errorf("%s: a changed call is not reported", name)
		}
	}
}

// anotherRun changes what another run of the same code would change in a
// transcript: ids, ports (each one the same way throughout), inodes,
// pointers, times, TCP's sequence numbers and timestamps.
func anotherRun(body []string) []string {
	ports := map[string]string{}
	for _, l := range body {
		for _, re := range portContexts {
			for _, m := range re.FindAllStringSubmatch(l, -1) {
				for _, p := range m[1:] {
					if n, err := strconv.Atoi(p); err == nil && n >= 1024 && n < 65000 {
						ports[p] = strconv.Itoa(n + 7)
					}
				}
			}
		}
	}
	var out []string
	for _, l := range body {
		l = anotherLine(l)
		l = number.ReplaceAllStringFunc(l, func(s string) string {
			if p, ok := ports[s]; ok {
				return p
			}
			return s
		})
		out = append(out, l)
	}
	return out
}

func anotherLine(l string) string {
	add := func(re string, delta int) {
		l = regexp.MustCompile(re).ReplaceAllStringFunc(l, func(m string) string {
			sub := regexp.MustCompile(re).FindStringSubmatchIndex(m)
			n, _ := strconv.Atoi(m[sub[2]:sub[3]])
			return m[:sub[2]] + strconv.Itoa(n+delta) + m[sub[3]:]
		})
	}
	add(`\[pid +(\d+)\]`, 1111)
	add(`\bpid (\d+)`, 1111)
	add(`\bpid=(\d+)`, 1111)
	add(`^(\d+) +[a-z<]`, 1111)
	add(`:\[(\d+)\]`, 5)
	add(`TS val (\d+)`, 1000)
	add(`ecr (\d+)`, 1000)
	if strings.Contains(l, "Flags [S") {
		add(`\bseq (\d+)`, 12345)
		add(`\back (\d+)`, 12345)
	}
	l = regexp.MustCompile(`0x[0-9a-f]{8,}`).ReplaceAllStringFunc(l, func(m string) string { return "0x" + strings.Repeat("7", len(m)-2) })
	l = regexp.MustCompile(`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d`).ReplaceAllString(l, "2031/02/03 04:05:06")
	// the peer's address as bytes: its port is the client's
	l = regexp.MustCompile(`SO_PEERNAME, "(?:[^"\\]|\\.)*"`).ReplaceAllString(l, `SO_PEERNAME, "\2\0\"\1\177\0\0\1\0\0\0\0\0\0\0\0"`)
	return l
}

// TestStraceHalvesJoined: strace -f cuts a call in two when another
// thread's call ends in between; where depends on timing.
func TestStraceHalvesJoined(t *testing.T) {
	whole := []string{
		`4330  accept4(3<TCP:[127.0.0.1:50007]>, 0x3c9f3623c180, [112], SOCK_CLOEXEC) = -1 EINVAL (Invalid argument)`,
		`4327  shutdown(3<TCP:[127.0.0.1:50007]>, SHUT_RDWR) = 0`,
		`4330  close(3<TCP:[127.0.0.1:50007]>)   = 0`,
		`4327  ppoll(NULL, 0, {tv_sec=1, tv_nsec=0}, NULL, 0 <unfinished ...>) = ?`,
	}
	cut := []string{
		`4330  accept4(3<TCP:[127.0.0.1:50007]>,  <unfinished ...>`,
		`4327  shutdown(3<TCP:[127.0.0.1:50007]>, SHUT_RDWR <unfinished ...>`,
		`4330  <... accept4 resumed>0x3c9f3623c180, [112], SOCK_CLOEXEC) = -1 EINVAL (Invalid argument)`,
		`4327  <... shutdown resumed>)           = 0`,
		`4330  close(3<TCP:[127.0.0.1:50007]> <unfinished ...>`,
		`4327  ppoll(NULL, 0, {tv_sec=1, tv_nsec=0}, NULL, 0 <unfinished ...>`,
		`4330  <... close resumed>)              = 0`,
		`4330  ???( <unfinished ...>`,
		`4327  <... ppoll resumed> <unfinished ...>) = ?`,
		`4327  ppoll(NULL, 0, {tv_sec=1, tv_nsec=0}, NULL, 0) = ? ERESTARTNOHAND (To be restarted if no handler)`,
	}
	unordered := []*regexp.Regexp{regexp.MustCompile(`accept4`)}
	a, b := normalize(strings.Join(whole, "\n"), unordered), normalize(strings.Join(cut, "\n"), unordered)
	if !slices.Equal(a, b) {
		t.Errorf("joined halves differ from whole calls:\n%s", strings.Join(diff(a, b), "\n"))
	}
}

// TestPortsRenamed: ports become P1, P2, ... by first appearance, so the
// same connection must be the same port throughout.
func TestPortsRenamed(t *testing.T) {
	got := normalize("connect to 127.0.0.1:50007 from 127.0.0.1:41000\nhtons(41000) htons(50007)\nnc -N 127.0.0.1 50007", nil)
	want := []string{"connect to 127.0.0.1:P1 from 127.0.0.1:P2", "htons(P2) htons(P1)", "nc -N 127.0.0.1 P1"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	swapped := normalize("connect to 127.0.0.1:50007 from 127.0.0.1:41000\nhtons(50007) htons(41000)\nnc -N 127.0.0.1 50007", nil)
	if slices.Equal(got, swapped) {
		t.Error("two ports swapped compare equal")
	}
}

// TestUnmarkedBlocks: program output outside the markers is refused;
// commands and code are not.
func TestUnmarkedBlocks(t *testing.T) {
	doc := strings.Split("# Notes\n\n```sh\nbin/fetchadd serve\n```\n\n```text\nfetchadd: pid 1\n```\n\nText:\n\n    [pid 1] socket(...) = 3\n\n- a list\n\n    continued in the list\n", "\n")
	blocks, err := parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	problems := checkUnmarked(doc, blocks)
	if len(problems) != 2 || !strings.Contains(problems[0], "line 7") || !strings.Contains(problems[1], "line 13") {
		t.Errorf("want the text block (line 7) and the indented one (line 13) refused, got %q", problems)
	}
}

// TestMarkers: a marker must be complete.
func TestMarkers(t *testing.T) {
	for _, doc := range []string{
		"<!-- transcript x: y -->\ntext\n",
		"<!-- transcript x: y -->\n```text\nline\n```\n",
		"<!-- transcript X y -->\n```text\n```\n<!-- end -->\n",
		"<!-- end -->\n",
	} {
		if _, err := parse(strings.Split(doc, "\n")); err == nil {
			t.Errorf("parse accepted %q", doc)
		}
	}
}

// TestRefs: what a file of the notes names in the repository must be
// there, and the files and headings it links to, relative to its own
// directory.
func TestRefs(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// This package's own files, named from the root as the notes name them.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	here, err := filepath.Rel(root, wd)
	if err != nil {
		t.Fatal(err)
	}
	here = filepath.ToSlash(here)
	// A chapter beside this one, in a directory of its own.
	chapters := t.TempDir()
	if err := os.WriteFile(filepath.Join(chapters, "other.md"), []byte("# Other\n\n## The backlog: `listen(1)`\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Rel(root, chapters)
	if err != nil {
		t.Fatal(err)
	}
	up, err := filepath.Rel(chapters, root)
	if err != nil {
		t.Fatal(err)
	}
	up = filepath.ToSlash(up) + "/"
	doc := []string{
		"# A chapter",
		"`" + here + "/normalize.go: normalize` and `" + here + "/run.go: env.run`, [the top](#a-chapter)",
		"`lecture/c/server.c: parse`, `lecture/python/server.py: serve`, `sock.Read`, [lecture](" + up + "lecture/c/server.c), [other](other.md#the-backlog-listen1)",
		"`" + here + "/run.go: answerConn`, `sock.NoSuchCall`, `" + here + "/nosuch.go`, [gone](" + up + "lecture/gone.c), [from the root](lecture/c/server.c), [nowhere](#nowhere), [no heading](other.md#the-backlog)",
	}
	problems := checkRefs(root, filepath.ToSlash(dir), doc, nil)
	var lines []string
	for _, p := range problems {
		lines = append(lines, p[:strings.Index(p, ":")])
	}
	if len(problems) != 7 || slices.ContainsFunc(lines, func(l string) bool { return l != "line 4" }) {
		t.Errorf("want 7 problems, all on line 4, got %q", problems)
	}
}

// TestAnchors: the headings' names, as a code host makes them.
func TestAnchors(t *testing.T) {
	doc := strings.Split("# fetchadd notes: the lab, call by call\n## 7. SO_REUSEADDR and TIME-WAIT\n```text\n# terminal 1\n```\n### The backlog: `listen(1)`\n## Exercises\n## Exercises\nnot # a heading", "\n")
	want := []string{"fetchadd-notes-the-lab-call-by-call", "7-so_reuseaddr-and-time-wait", "the-backlog-listen1", "exercises", "exercises-1"}
	if got := anchors(doc); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestUringWaitsDropped: how many times the uring loop waits with nothing
// to submit before a completion comes is timing; such waits that return
// with nothing are dropped, and the rest of the trace is compared.
func TestUringWaitsDropped(t *testing.T) {
	once := []string{
		`[pid 11268] IORING_OP_RECV(fd=9, len=8192, IOSQE_BUFFER_SELECT, buf_group=0) <unfinished ...>`,
		`[pid 11268] io_uring_enter(8, 1, 1, IORING_ENTER_GETEVENTS|IORING_ENTER_EXT_ARG, 0x1691ed388eb8, 24) = 1`,
		`[pid 11268] IORING_OP_RECV(fd=9, len=8192, IOSQE_BUFFER_SELECT, buf_group=0) = 3 (buf_id=0, "5\r\n")`,
	}
	twice := slices.Insert(slices.Clone(once), 2, `[pid 11268] io_uring_enter(8, 0, 1, IORING_ENTER_GETEVENTS|IORING_ENTER_EXT_ARG, 0x1691ed388eb8, 24) = 0`)
	if a, b := normalize(strings.Join(once, "\n"), nil), normalize(strings.Join(twice, "\n"), nil); !slices.Equal(a, b) {
		t.Errorf("an empty wait more is reported:\n%s", strings.Join(diff(a, b), "\n"))
	}
	submitted := slices.Insert(slices.Clone(once), 2, `[pid 11268] io_uring_enter(8, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) = 1`)
	if a, b := normalize(strings.Join(once, "\n"), nil), normalize(strings.Join(submitted, "\n"), nil); slices.Equal(a, b) {
		t.Error("an io_uring_enter that submitted is dropped")
	}
}

// TestMakeStrace: make strace runs the strace-session transcript's
// command: the same calls, and the same filter, which leaves out the
// calls on files and keeps the socket story, each line whole.
func TestMakeStrace(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nSTRACE_CALLS = " + straceCalls + "\n", "grep --line-buffered -v " + straceNoFiles + "\n"} {
		if !bytes.Contains(makefile, []byte(want)) {
			t.Errorf("the Makefile has no %q: make strace is not the transcript's command", want)
		}
	}
	grep, err := exec.LookPath("grep")
	if err != nil {
		t.Skip("grep is not installed")
	}
	files := []string{
		`10912 close(3</etc/ld.so.cache>)              = 0`,
		`10912 read(3</usr/lib/x86_64-linux-gnu/libc.so.6>, "\177ELF\2\1\1\3"..., 832) = 832`,
		`10915 read(3</proc/10912/maps>, "00400000-00549000 r-xp"..., 1024) = 1024`,
		`10915 read(6</usr/share/zoneinfo/Etc/UTC>, "TZif2\0\0\0", 4096) = 114`,
	}
	sockets := []string{
		`10915 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[6160260]>`,
		`10915 pipe2([4<pipe:[6160261]>, 5<pipe:[6160261]>], O_NONBLOCK|O_CLOEXEC) = 0`,
		`10915 read(6<TCP:[127.0.0.1:50007->127.0.0.1:37958]>, "5\r\n", 4096) = 3`,
		`10917 accept4(3<TCP:[127.0.0.1:50007]>,  <unfinished ...>`,
		`10917 <... accept4 resumed>0x8cc24590d28, [112], SOCK_CLOEXEC) = -1 EINVAL (Invalid argument)`,
		`10915 close(5<pipe:[6160261]>)          = 0`,
	}
	cmd := exec.Command("sh", "-c", grep+" -v "+straceNoFiles)
	cmd.Stdin = strings.NewReader(strings.Join(append(files, sockets...), "\n") + "\n")
	out, err := cmd.Output()
	if got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"); err != nil || !slices.Equal(got, sockets) {
		t.Errorf("make strace's filter kept\n %s\nwant\n %s\n(%v)", strings.Join(got, "\n "), strings.Join(sockets, "\n "), err)
	}
}
