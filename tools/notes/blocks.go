package main

import (
	"fmt"
	"regexp"
	"strings"
)

// A file of the notes (NOTES.md, docs/*.md) holds four kinds of marked block, each a fenced code block
// between an opening marker and <!-- end -->:
//
//	<!-- transcript NAME: SUMMARY -->   made by scenario NAME (make notes)
//	<!-- listing NAME: SUMMARY -->      a program the scenarios run, as shown
//	<!-- measured: SUMMARY -->          a measurement, dated, not regenerated
//	<!-- diagram: SUMMARY -->           a drawing
//
// A transcript's marker line and body are the tool's: make notes writes
// both, and make notes-check compares both.

// block is one marked block of a file of the notes.
type block struct {
	kind    string   // transcript, listing, measured, diagram
	name    string   // transcript and listing only
	summary string   // the marker's text after the colon
	lang    string   // the fence's info string
	start   int      // index of the marker line
	end     int      // index of the <!-- end --> line
	body    []string // the lines between the fences
}

var (
	namedMarker   = regexp.MustCompile(`^<!-- (transcript|listing) ([a-z0-9-]+): (.*) -->$`)
	unnamedMarker = regexp.MustCompile(`^<!-- (measured|diagram): (.*) -->$`)
	anyMarker     = regexp.MustCompile(`^<!-- (transcript|listing|measured|diagram)\b`)
	fence         = regexp.MustCompile("^```([a-z]*)$")
)

// parse finds the marked blocks of doc's lines.
func parse(lines []string) ([]block, error) {
	var blocks []block
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		var b block
		if m := namedMarker.FindStringSubmatch(line); m != nil {
			b = block{kind: m[1], name: m[2], summary: m[3]}
		} else if m := unnamedMarker.FindStringSubmatch(line); m != nil {
			b = block{kind: m[1], summary: m[2]}
		} else if anyMarker.MatchString(line) {
			return nil, fmt.Errorf("line %d: a marker must read <!-- transcript|listing NAME: SUMMARY --> or <!-- measured|diagram: SUMMARY -->: %q", i+1, line)
		} else if line == "<!-- end -->" {
			return nil, fmt.Errorf("line %d: <!-- end --> without a marker", i+1)
		} else {
			continue
		}
		b.start = i
		if i+1 >= len(lines) || !fence.MatchString(lines[i+1]) {
			return nil, fmt.Errorf("line %d: the marker must be followed by a fence (```)", i+1)
		}
		b.lang = fence.FindStringSubmatch(lines[i+1])[1]
		j := i + 2
		for j < len(lines) && lines[j] != "```" {
			if anyMarker.MatchString(lines[j]) {
				return nil, fmt.Errorf("line %d: a marker inside the block opened on line %d", j+1, i+1)
			}
			j++
		}
		if j+1 >= len(lines) || lines[j+1] != "<!-- end -->" {
			return nil, fmt.Errorf("line %d: the block opened on line %d must close with ``` and then <!-- end -->", j+1, i+1)
		}
		b.body = lines[i+2 : j]
		b.end = j + 1
		blocks = append(blocks, b)
		i = b.end
	}
	return blocks, nil
}

// unmarkedFences are the code blocks the notes may have outside markers:
// commands to type (sh), excerpts of code, and diagrams GitHub draws. A
// block of program output (text, console, no info string) must be a
// transcript, a listing or a dated measurement.
var unmarkedFences = map[string]bool{"sh": true, "c": true, "python": true, "go": true, "mermaid": true}

// checkUnmarked reports code blocks outside the markers that could hold a
// transcript written by hand: fences of another kind, and indented code
// blocks (four spaces after a blank line, outside a list).
func checkUnmarked(lines []string, blocks []block) []string {
	inBlock := make([]bool, len(lines))
	for _, b := range blocks {
		for i := b.start; i <= b.end; i++ {
			inBlock[i] = true
		}
	}
	var problems []string
	inFence, inList := false, false
	for i, line := range lines {
		if inBlock[i] {
			continue
		}
		if m := fence.FindStringSubmatch(line); m != nil || strings.HasPrefix(line, "```") {
			if !inFence && (m == nil || !unmarkedFences[m[1]]) {
				problems = append(problems, fmt.Sprintf("line %d: a code block outside the markers (%q): a transcript must be made by the tool (<!-- transcript NAME: ... -->), other output marked <!-- measured: ... --> or <!-- diagram: ... -->", i+1, line))
			}
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
		case listItem.MatchString(line):
			inList = true
		case !strings.HasPrefix(line, " "):
			inList = false
		}
		if strings.HasPrefix(line, "    ") && trimmed != "" && i > 0 && strings.TrimSpace(lines[i-1]) == "" && !inList {
			problems = append(problems, fmt.Sprintf("line %d: an indented code block outside the markers: use a marked fenced block", i+1))
		}
	}
	return problems
}

var listItem = regexp.MustCompile(`^\s*([-*]|\d+\.) `)

// render puts the transcripts back into lines: marker lines and bodies
// from made, by name.
func render(lines []string, blocks []block, made map[string]made) []string {
	var out []string
	last := 0
	for _, b := range blocks {
		m, ok := made[b.name]
		if b.kind != "transcript" || !ok {
			continue
		}
		out = append(out, lines[last:b.start]...)
		out = append(out, markerLine(b.name, m.summary), "```"+b.lang)
		out = append(out, m.lines...)
		out = append(out, "```", "<!-- end -->")
		last = b.end + 1
	}
	return append(out, lines[last:]...)
}

func markerLine(name, summary string) string {
	return fmt.Sprintf("<!-- transcript %s: %s -->", name, summary)
}
