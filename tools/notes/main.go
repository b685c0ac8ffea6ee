// Command notes makes every transcript of the notes (README.md, NOTES.md
// and the chapters in docs/) from the programs as they are, and checks that the
// notes still show what they print.
//
//	make notes          (go run ./tools/notes): rewrite each transcript in place
//	make notes-check    (go run ./tools/notes -check): make them again, in
//	                    memory, and fail with a diff where a file differs
//
// A transcript is a fenced block between <!-- transcript NAME: SUMMARY -->
// and <!-- end -->; scenario NAME (scenarios.go), a list of steps as a
// student takes them (steps.go: start a program in a terminal, type a
// line, wait for what it prints, Ctrl-C, ...), runs the real programs
// (fetchadd, the lecture's peers, strace, tcpdump, ss, nc, python3) on
// loopback, on port 50007 or the next free one, and writes what they
// print. Each scenario has its transcript in exactly one file of the
// notes. The check compares after normalize (normalize.go) has replaced
// what varies from run to run, and only that. It also fails when a code
// block outside the markers could be a transcript written by hand, and
// when a file names a file, function or identifier the repository does
// not have, or links to a file or a heading that is not there (refs.go).
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
	check := flag.Bool("check", false, "make the transcripts in memory and fail if a file of the notes differs (after normalising what varies between runs)")
	file := flag.String("file", "", "only this `FILE` of the notes, relative to the repository's root (default: README.md, NOTES.md and docs/*.md)")
	only := flag.String("only", "", "comma-separated transcript `NAMES`: only these")
	repeat := flag.Int("repeat", 0, "run each transcript `N` times and say how many different ones came out, normalised (to see whether a scenario is deterministic)")
	strict := flag.Bool("strict", os.Getenv("CI") != "", "fail when a transcript cannot be made here")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(2)
	}
	var files []docFile
	if *file != "" {
		files = []docFile{{name: filepath.ToSlash(filepath.Clean(*file))}}
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	opts := options{root: root, files: files, check: *check, only: names, repeat: *repeat, strict: *strict, out: os.Stdout}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

type options struct {
	root string
	// files are the files to make or check; nil: all of the notes
	// (allDocs), and then every scenario must have its transcript there.
	files  []docFile
	check  bool
	only   []string
	repeat int
	strict bool
	tries  int    // runs of a scenario that shows one of several outcomes; 0: 12
	bin    string // the programs' directory, for bin/ (tests); "": the repository's
	out    interface{ Write([]byte) (int, error) }
	// listings: the programs the scenarios run, by name (runScenario)
	listings map[string]string
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

// transcriptAt is a transcript to make: its block and the file it is in.
type transcriptAt struct {
	block
	doc *doc
}

func run(o options) error {
	complete := o.files == nil
	files := o.files
	if complete {
		var err error
		if files, err = allDocs(o.root); err != nil {
			return err
		}
	}
	docs, err := readDocs(o.root, files)
	if err != nil {
		return err
	}
	// The listings of every file of the notes, then those of the files
	// given (a copy being checked) over them.
	every := docs
	if !complete {
		all, err := allDocs(o.root)
		if err == nil {
			if d, err := readDocs(o.root, all); err == nil {
				every = append(d, docs...)
			}
		}
	}
	o.listings = listings(every)

	var problems []string
	where := map[string]string{} // transcript name: the file and line it is at
	var todo []transcriptAt
	for _, d := range docs {
		var local []string
		local = append(local, checkUnmarked(d.lines, d.blocks)...)
		local = append(local, checkRefs(o.root, d.dir(), d.lines, d.blocks)...)
		for _, b := range d.blocks {
			if b.kind != "transcript" {
				continue
			}
			at := fmt.Sprintf("%s line %d", d.name, b.start+1)
			if first, ok := where[b.name]; ok {
				local = append(local, fmt.Sprintf("line %d: transcript %s appears twice (first at %s)", b.start+1, b.name, first))
				continue
			}
			where[b.name] = at
			if scenarioByName(b.name) == nil {
				local = append(local, fmt.Sprintf("line %d: no scenario %q (tools/notes/scenarios.go)", b.start+1, b.name))
				continue
			}
			if len(o.only) == 0 || slices.Contains(o.only, b.name) {
				todo = append(todo, transcriptAt{b, d})
			}
		}
		for _, p := range local {
			problems = append(problems, d.name+": "+p)
		}
	}
	if complete {
		for _, s := range scenarios {
			if _, ok := where[s.name]; !ok {
				problems = append(problems, fmt.Sprintf("scenario %s has no transcript in the notes (README.md, NOTES.md, docs/*.md)", s.name))
			}
		}
	}
	for _, name := range o.only {
		if _, ok := where[name]; !ok {
			return fmt.Errorf("-only %s: no such transcript in %s", name, docNames(docs))
		}
	}

	// The scenarios that need a quiet port first: each leaves its port busy
	// for a minute (TIME-WAIT), and the others do not mind that.
	slices.SortStableFunc(todo, func(a, b transcriptAt) int {
		qa, qb := scenarioByName(a.name).quiet, scenarioByName(b.name).quiet
		switch {
		case qa && !qb:
			return -1
		case qb && !qa:
			return 1
		}
		return 0
	})
	newMade := map[*doc]map[string]made{}
	count := 0
	var skipped []string
	for _, t := range todo {
		s := scenarioByName(t.name)
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
		var shown func(made) error
		if o.check && s.accept != nil {
			// A scenario that comes out several ways (threads' order)
			// is checked against the way the notes show: a run that
			// comes out another way is made again, as produce does for
			// accept. A change in the code that the notes do not show
			// still fails: no run matches, within the scenario's tries.
			shown = func(m made) error {
				if d := compare(s, t.block, m); d != "" {
					return fmt.Errorf("not the run the notes show:\n%s", d)
				}
				return nil
			}
		}
		m, tries, err := produce(o, s, shown)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: transcript %s: %v", t.doc.name, s.name, err))
			continue
		}
		note := ""
		if tries > 1 {
			note = fmt.Sprintf(", %d runs for the outcome shown", tries)
		}
		fmt.Fprintf(o.out, "notes: %-18s %5.1fs%s\n", s.name, time.Since(start).Seconds(), note)
		if o.check {
			if d := compare(s, t.block, m); d != "" {
				problems = append(problems, fmt.Sprintf("%s: transcript %s (line %d) differs from what the code prints now (- %s, + now, both normalised):\n%s", t.doc.name, s.name, t.start+1, t.doc.name, d))
			}
		}
		if newMade[t.doc] == nil {
			newMade[t.doc] = map[string]made{}
		}
		newMade[t.doc][s.name] = m
		count++
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
	if !o.check {
		for _, d := range docs {
			if newMade[d] == nil {
				continue
			}
			out := strings.Join(render(d.lines, d.blocks, newMade[d]), "\n") + "\n"
			if out != d.raw {
				if err := os.WriteFile(d.path, []byte(out), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(o.out, "notes: wrote %s\n", d.name)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s:\n%s", docNames(docs), strings.Join(problems, "\n"))
	}
	if o.check {
		verb := "show"
		if len(docs) == 1 {
			verb = "shows"
		}
		fmt.Fprintf(o.out, "notes: %s %s what the code prints (%d transcripts)\n", docNames(docs), verb, count)
	}
	return nil
}

// docNames names the files: one by its name, more by their number.
func docNames(docs []*doc) string {
	if len(docs) == 1 {
		return docs[0].name
	}
	return fmt.Sprintf("the notes (%d files)", len(docs))
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
// may come out several ways, the one the notes explain, and, if shown is
// not nil, the one it accepts), at most o.tries times.
func produce(o options, s *scenario, shown func(made) error) (made, int, error) {
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
		m := made{summary: s.summary, lines: strings.Split(strings.TrimSuffix(out, "\n"), "\n")}
		if shown != nil {
			if err := shown(m); err != nil {
				last = err
				continue
			}
		}
		return m, try, nil
	}
	return made{}, tries, fmt.Errorf("%d runs, none with the outcome the notes show; the last: %w", tries, last)
}

func runScenario(o options, s *scenario) (string, error) {
	timeout := s.timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	e, err := newEnv(o.root, o.bin, o.listings, timeout)
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

// compare returns a diff of the transcript in the notes (b) against the one
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
