// Command notes makes every transcript in NOTES.md from the programs as
// they are, and checks that NOTES.md still shows what they print.
//
//	make notes          (go run ./tools/notes): rewrite each transcript in place
//	make notes-check    (go run ./tools/notes -check): make them again, in
//	                    memory, and fail with a diff where NOTES.md differs
//
// A transcript is a fenced block between <!-- transcript NAME: SUMMARY -->
// and <!-- end -->; scenario NAME (scenarios.go), a list of steps as a
// student takes them (steps.go: start a program in a terminal, type a
// line, wait for what it prints, Ctrl-C, ...), runs the real programs
// (fetchadd, the lecture's peers, strace, tcpdump, ss, nc, python3) on
// loopback, on port 50007 or the next free one, and writes what they
// print. The check compares after normalize (normalize.go) has replaced
// what varies from run to run, and only that. It also fails when a code
// block outside the markers could be a transcript written by hand, and
// when NOTES.md names a file, function or identifier the repository does
// not have (refs.go).
//
// The transcripts are Linux's. A transcript whose programs are missing
// here (strace, tcpdump, nc, ss, python3, cc) or that needs root
// (tcpdump) is skipped, saying so; with -strict (the default when CI is
// set) that is a failure.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	check := flag.Bool("check", false, "make the transcripts in memory and fail if NOTES.md differs (after normalising what varies between runs)")
	file := flag.String("file", "NOTES.md", "the notes, relative to the repository's root or absolute")
	only := flag.String("only", "", "comma-separated transcript `NAMES`: only these")
	repeat := flag.Int("repeat", 0, "run each transcript `N` times and say how many different ones came out, normalised (to see whether a scenario is deterministic)")
	strict := flag.Bool("strict", os.Getenv("CI") != "", "fail when a transcript cannot be made here")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(2)
	}
	path := *file
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	opts := options{root: root, path: path, check: *check, only: names, repeat: *repeat, strict: *strict, out: os.Stdout}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

type options struct {
	root, path string
	check      bool
	only       []string
	repeat     int
	strict     bool
	tries      int    // runs of a scenario that shows one of several outcomes; 0: 12
	bin        string // the programs' directory, for bin/ (tests); "": the repository's
	out        interface{ Write([]byte) (int, error) }
}

// made is a transcript as a scenario made it.
type made struct {
	summary string
	lines   []string
}

// repoRoot is the directory with go.mod, from here up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod here or above: run from the repository")
		}
		dir = parent
	}
}

func run(o options) error {
	raw, err := os.ReadFile(o.path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	blocks, err := parse(lines)
	if err != nil {
		return fmt.Errorf("%s: %w", o.path, err)
	}
	var problems []string
	problems = append(problems, checkUnmarked(lines, blocks)...)
	problems = append(problems, checkRefs(o.root, lines, blocks)...)

	listings := map[string]string{}
	seen := map[string]bool{}
	var todo []block
	for _, b := range blocks {
		switch b.kind {
		case "listing":
			listings[b.name] = strings.Join(b.body, "\n") + "\n"
		case "transcript":
			if seen[b.name] {
				problems = append(problems, fmt.Sprintf("line %d: transcript %s appears twice", b.start+1, b.name))
				continue
			}
			seen[b.name] = true
			if scenarioByName(b.name) == nil {
				problems = append(problems, fmt.Sprintf("line %d: no scenario %q (tools/notes/scenarios.go)", b.start+1, b.name))
				continue
			}
			if len(o.only) == 0 || slices.Contains(o.only, b.name) {
				todo = append(todo, b)
			}
		}
	}
	for _, s := range scenarios {
		if !seen[s.name] {
			problems = append(problems, fmt.Sprintf("scenario %s has no transcript in %s", s.name, filepath.Base(o.path)))
		}
	}
	for _, name := range o.only {
		if !seen[name] {
			return fmt.Errorf("-only %s: no such transcript in %s", name, filepath.Base(o.path))
		}
	}

	// The scenarios that need a quiet port first: each leaves its port busy
	// for a minute (TIME-WAIT), and the others do not mind that.
	slices.SortStableFunc(todo, func(a, b block) int {
		qa, qb := scenarioByName(a.name).quiet, scenarioByName(b.name).quiet
		switch {
		case qa && !qb:
			return -1
		case qb && !qa:
			return 1
		}
		return 0
	})
	newMade := map[string]made{}
	var skipped []string
	for _, b := range todo {
		s := scenarioByName(b.name)
		if why := cannotRun(s); why != "" {
			skipped = append(skipped, fmt.Sprintf("%s (%s)", s.name, why))
			continue
		}
		if err := built(o, s); err != nil {
			return err
		}
		if o.repeat > 0 {
			repeatScenario(o, s)
			continue
		}
		start := time.Now()
		m, tries, err := produce(o, s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("transcript %s: %v", s.name, err))
			continue
		}
		note := ""
		if tries > 1 {
			note = fmt.Sprintf(", %d runs for the outcome shown", tries)
		}
		fmt.Fprintf(o.out, "notes: %-18s %5.1fs%s\n", s.name, time.Since(start).Seconds(), note)
		if o.check {
			if d := compare(s, b, m); d != "" {
				problems = append(problems, fmt.Sprintf("transcript %s (line %d) differs from what the code prints now (- NOTES.md, + now, both normalised):\n%s", s.name, b.start+1, d))
			}
		}
		newMade[s.name] = m
	}
	if o.repeat > 0 {
		return nil
	}
	if len(skipped) > 0 {
		msg := fmt.Sprintf("not made here: %s", strings.Join(skipped, ", "))
		if o.strict {
			problems = append(problems, msg)
		} else {
			fmt.Fprintln(o.out, "notes: "+msg)
		}
	}
	if !o.check && len(newMade) > 0 {
		out := strings.Join(render(lines, blocks, newMade), "\n") + "\n"
		if out != string(raw) {
			if err := os.WriteFile(o.path, []byte(out), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(o.out, "notes: wrote %s\n", o.path)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s:\n%s", filepath.Base(o.path), strings.Join(problems, "\n"))
	}
	if o.check {
		fmt.Fprintf(o.out, "notes: %s shows what the code prints (%d transcripts)\n", filepath.Base(o.path), len(newMade))
	}
	return nil
}

// cannotRun says why scenario s cannot run here, or "".
func cannotRun(s *scenario) string {
	if runtime.GOOS != "linux" {
		return "the transcripts are Linux's"
	}
	var missing []string
	for _, n := range s.needs {
		if n == "root" {
			if os.Geteuid() != 0 {
				missing = append(missing, "root, for tcpdump on lo")
			}
			continue
		}
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return "needs " + strings.Join(missing, ", ")
	}
	return ""
}

// built checks that the programs of bin/ that s runs are there.
func built(o options, s *scenario) error {
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(o.root, "bin")
	}
	for _, p := range s.programs {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			return fmt.Errorf("transcript %s runs bin/%s, which is not built: make build peers (make notes and make notes-check do)", s.name, p)
		}
	}
	return nil
}

// produce runs s until it makes a transcript (and, for a scenario that
// may come out several ways, the one NOTES.md explains), at most o.tries
// times.
func produce(o options, s *scenario) (made, int, error) {
	tries := o.tries
	if tries == 0 {
		tries = s.tries
	}
	if tries == 0 {
		tries = 12
	}
	var last error
	failed := 0
	for try := 1; try <= tries; try++ {
		out, err := runScenario(o, s)
		if err != nil {
			// A run that failed: once more, in case something else on the
			// machine was in the way, then give up.
			if failed++; failed == 2 {
				return made{}, try, err
			}
			last = err
			continue
		}
		if s.accept != nil {
			if err := s.accept(out); err != nil {
				last = err
				continue
			}
		}
		return made{summary: s.summary, lines: strings.Split(strings.TrimSuffix(out, "\n"), "\n")}, try, nil
	}
	return made{}, tries, fmt.Errorf("%d runs, none with the outcome NOTES.md shows; the last: %w", tries, last)
}

var listingsCache = map[string]map[string]string{}

// listingsOf reads the listings of the notes (the programs the scenarios
// run as NOTES.md shows them).
func listingsOf(o options) map[string]string {
	if l, ok := listingsCache[o.path]; ok {
		return l
	}
	l := map[string]string{}
	raw, _ := os.ReadFile(o.path)
	blocks, _ := parse(strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n"))
	for _, b := range blocks {
		if b.kind == "listing" {
			l[b.name] = strings.Join(b.body, "\n") + "\n"
		}
	}
	listingsCache[o.path] = l
	return l
}

func runScenario(o options, s *scenario) (string, error) {
	timeout := s.timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	e, err := newEnv(o.root, o.bin, listingsOf(o), timeout)
	if err != nil {
		return "", err
	}
	defer e.close()
	if err := play(e, s.steps); err != nil {
		return e.transcript(), err
	}
	return e.transcript(), nil
}

func (s *scenario) unorderedRegexps() []*regexp.Regexp {
	var res []*regexp.Regexp
	for _, u := range s.unordered {
		res = append(res, regexp.MustCompile(u))
	}
	return res
}

// compare returns a diff of the transcript in NOTES.md (b) against the one
// made now, after normalize, or "" if they are the same.
func compare(s *scenario, b block, m made) string {
	var d []string
	if b.summary != m.summary {
		d = append(d, "- "+markerLine(b.name, b.summary), "+ "+markerLine(b.name, m.summary))
	}
	old := normalize(strings.Join(b.body, "\n"), s.unorderedRegexps())
	now := normalize(strings.Join(m.lines, "\n"), s.unorderedRegexps())
	if !slices.Equal(old, now) {
		d = append(d, diff(old, now)...)
	}
	return strings.Join(d, "\n")
}

// repeatScenario runs s o.repeat times and says how many different
// transcripts came out, normalised, with a diff of the first two.
func repeatScenario(o options, s *scenario) {
	var variants [][]string
	var raws []string
	var counts []int
	for i := 0; i < o.repeat; i++ {
		out, err := runScenario(o, s)
		if err == nil && s.accept != nil {
			if why := s.accept(out); why != nil {
				err = fmt.Errorf("not the outcome shown: %w", why)
			}
		}
		if err != nil {
			fmt.Fprintf(o.out, "notes: %s run %d: %v\n", s.name, i+1, err)
			continue
		}
		n := normalize(out, s.unorderedRegexps())
		found := false
		for j, v := range variants {
			if slices.Equal(v, n) {
				counts[j]++
				found = true
			}
		}
		if !found {
			variants = append(variants, n)
			raws = append(raws, out)
			counts = append(counts, 1)
		}
	}
	fmt.Fprintf(o.out, "notes: %s: %d runs, %d different transcripts %v\n", s.name, o.repeat, len(variants), counts)
	for i := 1; i < len(variants); i++ {
		fmt.Fprintf(o.out, "variant 1 against variant %d:\n%s\n", i+1, strings.Join(diff(variants[0], variants[i]), "\n"))
	}
	if dir := os.Getenv("NOTES_DUMP"); dir != "" {
		for i, r := range raws {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.txt", s.name, i+1)), []byte(r), 0o644)
		}
	}
}

// diff is a line diff of a against b, with two lines of context.
func diff(a, b []string) []string {
	// lcs[i][j]: the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		line string
	}
	var ops []op
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', b[j]})
			j++
		default:
			ops = append(ops, op{'-', a[i]})
			i++
		}
	}
	var out []string
	for k, o := range ops {
		near := false
		for d := -2; d <= 2; d++ {
			if k+d >= 0 && k+d < len(ops) && ops[k+d].kind != ' ' {
				near = true
			}
		}
		if near {
			out = append(out, string(o.kind)+" "+o.line)
		} else if len(out) > 0 && out[len(out)-1] != "  ..." {
			out = append(out, "  ...")
		}
	}
	return out
}
