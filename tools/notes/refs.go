package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// checkRefs checks that what NOTES.md names in the repository is there:
// a file named in backquotes or in a link (`server/iterative.go`), a
// function, type or method after it (`server/iterative.go: serveConn`,
// `server/deadline.go: deadline.read`, `lecture/c/server.c: parse`,
// `lecture/python/server.py: serve`), and an identifier of one of
// fetchadd's packages (`sock.Read`, `fetchadd.Session`). Code moves; the
// notes must follow it.
func checkRefs(root string, lines []string, blocks []block) []string {
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
			target := strings.SplitN(m[1], "#", 2)[0]
			if target == "" || strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, target)); err != nil {
				report(i, "link to %s: no such file", target)
			}
		}
	}
	return problems
}

var (
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
