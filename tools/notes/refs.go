package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// checkRefs checks that what a file of the notes names in the repository
// is there: a file named in backquotes (`server/iterative.go`, from the
// root), a function, type or method after it (`server/iterative.go:
// serveConn`, `server/deadline.go: deadline.read`, `lecture/c/server.c:
// parse`, `lecture/python/server.py: serve`), an identifier of one of
// fetchadd's packages (`sock.Read`, `fetchadd.Session`), and the target
// of a link, relative to dir, the file's directory from the root, as a
// code host reads it (`[server.c](../lecture/c/server.c)` in docs/), with
// the heading it names, if any (`[the backlog](lab-5-one-at-a-time.md#the-backlog-listen1)`,
// `[below](#answers)`). Code moves and chapters change; the notes must
// follow them.
func checkRefs(root, dir string, lines []string, blocks []block) []string {
	inBlock := make([]bool, len(lines))
	for _, b := range blocks {
		for i := b.start; i <= b.end; i++ {
			inBlock[i] = true
		}
	}
	var problems []string
	report := func(i int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("line %d: ", i+1)+fmt.Sprintf(format, args...))
	}
	inFence := false
	for i, line := range lines {
		if inBlock[i] {
			continue
		}
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
			span := m[1]
			if f := fileRef.FindStringSubmatch(span); f != nil && inRepo(root, f[1]) {
				path := f[1]
				src, err := os.ReadFile(filepath.Join(root, path))
				if err != nil {
					report(i, "`%s`: no file %s", span, path)
					continue
				}
				for _, name := range splitNames(f[3]) {
					if !defines(string(src), filepath.Ext(path), name) {
						report(i, "`%s`: %s does not define %s", span, path, name)
					}
				}
				continue
			}
			if g := goIdent.FindStringSubmatch(span); g != nil {
				if !packageDefines(root, g[1], g[2], g[3]) {
					report(i, "`%s`: package %s has no %s%s", span, g[1], g[2], g[3])
				}
			}
		}
		for _, m := range link.FindAllStringSubmatch(line, -1) {
			if strings.Contains(m[1], "://") || strings.HasPrefix(m[1], "mailto:") {
				continue
			}
			target, anchor, _ := strings.Cut(m[1], "#")
			file := filepath.Join(root, filepath.FromSlash(dir), filepath.FromSlash(target))
			if target == "" {
				if anchor != "" && !slices.Contains(anchors(lines), anchor) {
					report(i, "link to #%s: no such heading here", anchor)
				}
				continue
			}
			if _, err := os.Stat(file); err != nil {
				report(i, "link to %s: no such file (links are relative to %s/)", target, dir)
				continue
			}
			if anchor == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			raw, err := os.ReadFile(file)
			if err == nil && !slices.Contains(anchors(strings.Split(string(raw), "\n")), anchor) {
				report(i, "link to %s#%s: %s has no such heading", target, anchor, target)
			}
		}
	}
	return problems
}

// anchors are the names a code host gives the headings of a markdown
// file's lines, as GitHub makes them: lower case, punctuation dropped,
// spaces as dashes, and -1, -2, ... after a name already taken.
func anchors(lines []string) []string {
	var names []string
	seen := map[string]int{}
	inFence := false
	for _, l := range lines {
		if strings.HasPrefix(l, "```") {
			inFence = !inFence
			continue
		}
		h := heading.FindStringSubmatch(l)
		if inFence || h == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(h[1])) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		name := b.String()
		if n := seen[name]; n > 0 {
			names = append(names, fmt.Sprintf("%s-%d", name, n))
		} else {
			names = append(names, name)
		}
		seen[name]++
	}
	return names
}

var (
	heading  = regexp.MustCompile(`^#{1,6} +(.+?) *#*$`)
	codeSpan = regexp.MustCompile("`([^`]+)`")
	fileRef  = regexp.MustCompile(`^((?:[a-z_]+/)+[\w.-]+\.(?:go|c|py|sh)|main\.go|[\w]+_test\.go)(: (.+))?$`)
	goIdent  = regexp.MustCompile(`^(sock|server|fetchadd|client|bench)\.([A-Z]\w*)((?:\.\w+)?)$`)
	link     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// inRepo says whether path is the repository's: its first directory is
// one of the repository's (kernel/signal.c is Linux's, not ours).
func inRepo(root, path string) bool {
	first, _, _ := strings.Cut(path, "/")
	_, err := os.Stat(filepath.Join(root, first))
	return err == nil
}

// splitNames reads "serveConn", "Session.Answer", "reply, parse" or
// "RunTerminal()" as names to look for.
func splitNames(s string) []string {
	var names []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSuffix(strings.TrimSpace(n), "()")
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// defines says whether src, a file of the language ext, defines name: a
// function, type, method (Type.Method), variable or constant.
func defines(src, ext, name string) bool {
	typ, fn, method := "", name, strings.Contains(name, ".")
	if method {
		typ, fn = strings.Split(name, ".")[0], strings.Split(name, ".")[1]
	}
	q := regexp.QuoteMeta
	var patterns []string
	switch ext {
	case ".go":
		if method {
			patterns = []string{`(?m)^func \(\w+ \*?` + q(typ) + `(\[[^\]]*\])?\) ` + q(fn) + `[\[(]`}
		} else {
			patterns = []string{
				`(?m)^func (\(\w+ [^)]*\) )?` + q(fn) + `[\[(]`,
				`(?m)^(type|var|const) ` + q(fn) + `\b`,
				`(?m)^\t` + q(fn) + `\b.*=`,
			}
		}
	case ".c":
		patterns = []string{`(?m)^[a-z][\w \t*]*\b` + q(fn) + `\(`}
	case ".py":
		if method {
			patterns = []string{`(?ms)^class ` + q(typ) + `\b.*?^    def ` + q(fn) + `\(`}
		} else {
			patterns = []string{`(?m)^(def|class) ` + q(fn) + `\b`, `(?m)^` + q(fn) + ` = `}
		}
	case ".sh":
		patterns = []string{`(?m)^` + q(fn) + `\(\)`}
	}
	for _, p := range patterns {
		if regexp.MustCompile(p).MatchString(src) {
			return true
		}
	}
	return false
}

// packageDefines says whether package dir (sock, server, ...) defines
// name, and, if member is ".M", a method or field M of it.
func packageDefines(root, dir, name, member string) bool {
	files, _ := filepath.Glob(filepath.Join(root, dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if member == "" && defines(string(src), ".go", name) {
			return true
		}
		if member != "" && (defines(string(src), ".go", name+member) ||
			regexp.MustCompile(`(?ms)^type `+regexp.QuoteMeta(name)+` struct \{.*?^\t`+regexp.QuoteMeta(member[1:])+`\b.*?^\}`).MatchString(string(src))) {
			return true
		}
	}
	return false
}
