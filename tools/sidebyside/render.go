package main

// The table: the steps lined up across the columns, stacked to fit 100
// columns or side by side (-wide), and the replies under it.

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// align lines the columns up: a row per step, the columns' calls of that
// step side by side (a call's index in its column, -1 for a gap). The
// columns join the rows one at a time, each by the alignment that puts
// the most equal steps in the same rows: a longest common subsequence of
// the rows so far and the column's steps, where a row is worth a point
// for each call it holds (each pair of columns in step).
func align(cols [][]string) [][]int {
	var rows [][]int
	var keys []string // each row's step
	for c, calls := range cols {
		rows, keys = merge(rows, keys, steps(calls), c, len(cols))
	}
	return rows
}

// merge adds column c, whose calls make the steps s, to the rows.
func merge(rows [][]int, keys, s []string, c, n int) ([][]int, []string) {
	weight := func(i int) int {
		w := 0
		for _, k := range rows[i] {
			if k >= 0 {
				w++
			}
		}
		return w
	}
	a, b := len(rows), len(s)
	best := make([][]int, a+1) // best[i][j]: of rows[i:] and s[j:]
	for i := range best {
		best[i] = make([]int, b+1)
	}
	for i := a; i >= 0; i-- {
		for j := b; j >= 0; j-- {
			if i < a {
				best[i][j] = best[i+1][j]
			}
			if j < b {
				best[i][j] = max(best[i][j], best[i][j+1])
			}
			if i < a && j < b && keys[i] == s[j] {
				best[i][j] = max(best[i][j], weight(i)+best[i+1][j+1])
			}
		}
	}
	var out [][]int
	var outKeys []string
	for i, j := 0, 0; i < a || j < b; {
		switch {
		case i < a && j < b && keys[i] == s[j] && best[i][j] == weight(i)+best[i+1][j+1]:
			rows[i][c] = j // the call joins the row
			out, outKeys = append(out, rows[i]), append(outKeys, keys[i])
			i, j = i+1, j+1
		case j < b && best[i][j] == best[i][j+1]:
			row := make([]int, n) // a row of its own
			for k := range row {
				row[k] = -1
			}
			row[c] = j
			out, outKeys = append(out, row), append(outKeys, s[j])
			j++
		default:
			out, outKeys = append(out, rows[i]), append(outKeys, keys[i])
			i++
		}
	}
	return out, outKeys
}

// render prints the columns side by side.
func render(w io.Writer, cols []column) {
	var calls, keys [][]string
	for _, c := range cols {
		calls, keys = append(calls, c.Calls), append(keys, steps(c.Calls))
	}
	width := make([]int, len(cols)+1)
	for _, l := range stepLabel {
		width[0] = max(width[0], len(l))
	}
	for i, c := range cols {
		width[i+1] = max(len(c.Title), len(c.Note))
		for _, call := range c.Calls {
			width[i+1] = max(width[i+1], len(call))
		}
	}
	// line prints the cells, each padded to its width but the last.
	line := func(cells []string, sep string) {
		var b strings.Builder
		for i, cell := range cells {
			if i > 0 {
				b.WriteString(sep)
			}
			if i < len(cells)-1 {
				cell += strings.Repeat(" ", width[i]-len(cell))
			}
			b.WriteString(cell)
		}
		fmt.Fprintln(w, b.String())
	}
	cells := func(f func(c column) string) []string {
		out := []string{""}
		for _, c := range cols {
			out = append(out, f(c))
		}
		return out
	}
	head := cells(func(c column) string { return c.Title })
	head[0] = "step"
	line(head, " | ")
	rule := make([]string, len(width))
	for i, n := range width {
		rule[i] = strings.Repeat("-", n)
	}
	line(rule, "-+-")
	if notes := cells(func(c column) string { return c.Note }); strings.Join(notes, "") != "" {
		line(notes, " | ")
	}
	for _, row := range align(calls) {
		cells := make([]string, len(cols)+1)
		for i, n := range row {
			if n >= 0 {
				cells[i+1] = calls[i][n]
				cells[0] = stepLabel[keys[i][n]]
			}
		}
		line(cells, " | ")
	}
	renderReplies(w, cols, 0)
}

// renderReplies says whether the servers answered the same: with their
// replies quoted on the same line, or, when width is not 0, on the lines
// after it, in quoted pieces of whole lines that fit width.
func renderReplies(w io.Writer, cols []column, width int) {
	same := len(cols[0].Replies) > 0
	for _, c := range cols[1:] {
		same = same && bytes.Equal(c.Replies, cols[0].Replies)
	}
	say := func(what string, replies []byte) {
		if width == 0 {
			fmt.Fprintf(w, "%s: %q\n", what, replies)
			return
		}
		fmt.Fprintf(w, "%s:\n", what)
		for _, q := range quoted(replies, width-2) {
			fmt.Fprintf(w, "  %s\n", q)
		}
	}
	fmt.Fprintln(w)
	if same {
		say(fmt.Sprintf("All %d answered the same %d bytes", len(cols), len(cols[0].Replies)), cols[0].Replies)
		return
	}
	for _, c := range cols {
		say(c.Title+" answered", c.Replies)
	}
}

// quoted quotes b in pieces no wider than width, each of as many whole
// lines of b as fit (a line that does not fit alone is cut).
func quoted(b []byte, width int) []string {
	var out []string
	var piece []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(piece) > 0 && len(strconv.Quote(string(piece)+string(line))) > width {
			out, piece = append(out, strconv.Quote(string(piece))), nil
		}
		for len(piece) == 0 && len(line) > 1 && len(strconv.Quote(string(line))) > width {
			n := len(line) - 1 // the longest head of line that fits
			for n > 1 && len(strconv.Quote(string(line[:n]))) > width {
				n--
			}
			out, line = append(out, strconv.Quote(string(line[:n]))), line[n:]
		}
		piece = append(piece, line...)
	}
	if len(piece) > 0 || len(out) == 0 {
		out = append(out, strconv.Quote(string(piece)))
	}
	return out
}

// stacked is a line of the stacked table: a step's call, and which
// columns make it.
type stacked struct {
	Step string // the step's label, on its first line only
	In   []bool // In[i]: column i makes the call
	Call string
}

// stack turns the aligned rows into the stacked table's lines: for each
// row, each different call once, marked with the columns that make it,
// in the order of the columns that make it first.
func stack(cols []column) []stacked {
	var calls, keys [][]string
	for _, c := range cols {
		calls, keys = append(calls, c.Calls), append(keys, steps(c.Calls))
	}
	var out []stacked
	for _, row := range align(calls) {
		first := len(out)
		for i, n := range row {
			if n < 0 {
				continue
			}
			call := calls[i][n]
			j := slices.IndexFunc(out[first:], func(s stacked) bool { return s.Call == call })
			if j < 0 {
				out = append(out, stacked{In: make([]bool, len(cols)), Call: call})
				j = len(out) - 1 - first
			}
			out[first+j].In[i] = true
			out[first].Step = stepLabel[keys[i][n]]
		}
	}
	return out
}

// renderStacked prints the table stacked, no line wider than width: a
// key of the columns' letters, then each step's calls, one line per
// different call, marked with the letters of the columns that make it.
func renderStacked(w io.Writer, cols []column) {
	for _, c := range cols {
		line := c.Key + "  " + c.Title
		if c.Note != "" {
			line += " " + c.Note
		}
		fmt.Fprintln(w, fold(line, width, width, len(c.Key)+2, " "))
	}
	fmt.Fprintln(w)
	label := 0
	for _, l := range stepLabel {
		label = max(label, len(l))
	}
	keys := make([]string, len(cols))
	for i, c := range cols {
		keys[i] = c.Key
	}
	marks := len(strings.Join(keys, " "))
	callAt := label + 1 + marks + 2 // where each call starts
	fmt.Fprintf(w, "%-*s %s  %s\n", label, "step", strings.Join(keys, " "), "call")
	fmt.Fprintf(w, "%s %s  %s\n", strings.Repeat("-", label), strings.Repeat("-", marks), strings.Repeat("-", width-callAt))
	for _, s := range stack(cols) {
		m := make([]string, len(cols))
		for i, in := range s.In {
			m[i] = strings.Repeat(" ", len(keys[i]))
			if in {
				m[i] = keys[i]
			}
		}
		head := fmt.Sprintf("%-*s %s  ", label, s.Step, strings.Join(m, " "))
		fmt.Fprintln(w, head+fold(s.Call, width-callAt, width, callAt+2, ", "))
	}
	renderReplies(w, cols, width)
}

// fold breaks s into lines, the first at most first bytes wide, the
// others rest wide, counting the indent spaces they start with; each
// line ends after the last sep that fits in it (else, with no sep, at
// its width).
func fold(s string, first, rest, indent int, sep string) string {
	var b strings.Builder
	room := first
	for len(s) > room && room > 0 {
		cut := strings.LastIndex(s[:room], sep) + len(sep)
		if cut < len(sep) || strings.TrimSpace(s[:cut]) == "" {
			cut = room // no sep that fits: cut the word
		}
		b.WriteString(strings.TrimRight(s[:cut], " ") + "\n" + strings.Repeat(" ", indent))
		s = s[cut:]
		room = rest - indent
	}
	b.WriteString(s)
	return b.String()
}
