package fetchadd

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"fetchadd/internal/testwait"
)

// verdict is what a line means to the server: the number's value, "!!!!",
// or "busy" (refused for want of budget).
func verdict(line []byte, busy bool) string {
	if busy {
		return "busy"
	}
	if n, ok := ParseBytes(line); ok {
		return n.String()
	}
	return Invalid
}

// wantVerdicts is the rule written plainly on whole lines: split at LF, a
// last piece without LF is a line if it is not empty, a line over MaxLine
// is not a number, any other line is what ParseBytes says.
func wantVerdicts(data []byte) []string {
	var want []string
	parts := bytes.Split(data, []byte("\n"))
	for i, p := range parts {
		if i == len(parts)-1 && len(p) == 0 {
			break
		}
		if len(p) > MaxLine {
			p = []byte("x")
		}
		want = append(want, verdict(p, false))
	}
	return want
}

// feedAll feeds a framer data in pieces of the given sizes (cycled), then
// flushes, and returns the verdicts on the lines it got.
func feedAll(t *testing.T, data []byte, sizes ...int) []string {
	var f Framer
	var got []string
	emit := func(line []byte, busy bool) bool { got = append(got, verdict(line, busy)); return true }
	for i := 0; len(data) > 0; i++ {
		n := len(data)
		if len(sizes) > 0 && sizes[i%len(sizes)] < n {
			n = sizes[i%len(sizes)]
		}
		f.Feed(data[:n], emit)
		data = data[n:]
		checkHeld(t, &f)
	}
	f.Flush(emit)
	if f.held != 0 || f.start.text != nil {
		t.Fatalf("after Flush the framer holds %d bytes (text cap %d)", f.held, cap(f.start.text))
	}
	return got
}

// checkHeld fails if f holds more than one line can need: a sign and
// MaxDigits digits.
func checkHeld(t *testing.T, f *Framer) {
	if f.held > 1+MaxDigits || cap(f.start.text) > 1+MaxDigits {
		t.Helper() // only here: it is slow, and this runs after every piece
		t.Fatalf("framer holds %d bytes (text cap %d), more than 1+MaxDigits", f.held, cap(f.start.text))
	}
}

func TestFramer(t *testing.T) {
	testwait.Watchdog(t) // a framer that loops would hang it
	long := strings.Repeat("7", MaxLine)
	inputs := []string{
		"", "1", "1\n", "1\n2\n3\n", "1\r\n2\r\n", "\n\n", "1\n2", "\r",
		long + "\n", long + "1\n2\n", long + "12\n3", long, long + "1",
		"1\n" + long + long + "\n2\n",
		" -1_2 \r\n+3\n1__2\n_1\n1_\n- 1\n1 2\n", "  \t\n", "-\n+\n",
		strings.Repeat("9", MaxDigits) + "\n" + strings.Repeat("9", MaxDigits+1) + "\n",
		strings.Repeat("0", MaxDigits) + " \n" + strings.Repeat("0_", MaxDigits) + "\n",
	}
	for _, in := range inputs {
		want := strings.Join(wantVerdicts([]byte(in)), ",")
		for _, sizes := range [][]int{nil, {1}, {2}, {3, 1}, {63}, {64}, {65}, {MaxDigits}, {MaxLine - 1}, {MaxLine}, {MaxLine + 1}, {4096}} {
			if got := strings.Join(feedAll(t, []byte(in), sizes...), ","); got != want {
				t.Errorf("input of %d bytes in pieces of %v:\ngot  %.80s\nwant %.80s", len(in), sizes, got, want)
			}
		}
	}
}

// TestFramerKeepsLittle: whatever comes without an LF, the framer holds at
// most a sign and MaxDigits digits for it, and nothing for what cannot be a
// number or is only whitespace; and the line's verdict is still right.
func TestFramerKeepsLittle(t *testing.T) {
	testwait.Watchdog(t) // a framer that loops would hang it
	digits := func(n int) string { return strings.Repeat("8", n) }
	cases := []struct {
		name, in string
		max      int // the most the framer may hold for it
	}{
		{"16,000 digits", digits(16000), 0}, // past MaxDigits: nothing
		{"MaxDigits digits", digits(MaxDigits), 1 + MaxDigits},
		{"MaxDigits digits then spaces", "-" + digits(MaxDigits) + strings.Repeat(" ", 10000), 1 + MaxDigits},
		{"1_1_1...", strings.Repeat("1_", MaxDigits-1) + "1", 1 + MaxDigits},
		{"1_1_1... too many", strings.Repeat("1_", 8000) + "1", 0},
		{"whitespace", strings.Repeat(" \t\r", 5000), 0},
		{"garbage after digits", digits(3000) + "x" + digits(5000), 0},
		{"past MaxLine", strings.Repeat(" ", MaxLine) + digits(100), 0},
		{"a small number", "  -" + digits(19) + " ", lineFloor},
	}
	for _, tc := range cases {
		for _, size := range []int{1, 7, 64, 4096, MaxLine} {
			var f Framer
			in := []byte(tc.in)
			for len(in) > 0 {
				n := min(size, len(in))
				f.Feed(in[:n], func([]byte, bool) bool { t.Fatal("no line has ended"); return false })
				in = in[n:]
				checkHeld(t, &f)
			}
			if f.held > tc.max {
				t.Errorf("%s in pieces of %d: framer holds %d bytes at the end, want at most %d", tc.name, size, f.held, tc.max)
			}
			var got []string
			f.Feed([]byte("\n5\n"), func(l []byte, busy bool) bool { got = append(got, verdict(l, busy)); return true })
			want := append(wantVerdicts([]byte(tc.in)), "5")
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s in pieces of %d: got %.60q, want %.60q", tc.name, size, got, want)
			}
		}
	}
}

// TestPrefixSplits: for every line of a few bytes from the grammar's
// alphabet, and every point to cut it, the prefix reads the line as
// ParseBytes reads it whole.
func TestPrefixSplits(t *testing.T) {
	alphabet := []byte("0 1_-+\tx")
	var lines func(line []byte, n int)
	lines = func(line []byte, n int) {
		if n > 0 {
			for _, c := range alphabet {
				lines(append(line, c), n-1)
			}
		}
		want := verdict(line, false)
		for cut := 0; cut <= len(line); cut++ {
			var x prefix
			for _, piece := range [][]byte{line[:cut], line[cut:]} {
				for rest := x.scan(piece); len(rest) > 0; rest = x.scan(rest) {
					x.text = append(make([]byte, 0, 2*cap(x.text)+2), x.text...)
				}
			}
			if got := verdict(x.line(), false); got != want {
				t.Fatalf("%q cut at %d: got %s, want %s", line, cut, got, want)
			}
		}
	}
	lines(nil, 5)
}

// TestFramerStops: when emit says stop, Feed returns the bytes used up to
// that line's end, and a later Feed of the rest goes on where it stopped.
func TestFramerStops(t *testing.T) {
	testwait.Watchdog(t) // a framer that loops would hang it
	var f Framer
	in := []byte("1\n22\n333\n4")
	var got []string
	stopAfter := func(n int) func([]byte, bool) bool {
		return func(line []byte, busy bool) bool { got = append(got, verdict(line, busy)); return len(got) < n }
	}
	if used := f.Feed(in, stopAfter(2)); used != 5 {
		t.Fatalf("used %d, want 5 (through the LF of the second line)", used)
	}
	if used := f.Feed(in[5:], stopAfter(10)); used != len(in)-5 {
		t.Fatalf("used %d of the rest, want all %d", used, len(in)-5)
	}
	f.Flush(stopAfter(10))
	if strings.Join(got, ",") != "1,22,333,4" {
		t.Fatalf("lines %q", got)
	}
}

// FuzzFramer: for any input, cut anywhere (piece seeds the cuts), a
// session answers as the whole lines say, holds no more than one line can
// need, and gives all back; with no budget to spare, it refuses only lines
// that need more than the floor, and answers the rest rightly.
func FuzzFramer(f *testing.F) {
	testwait.Watchdog(f) // a framer that loops would hang it
	f.Add([]byte("1\n2\r\n3"), uint8(1))
	f.Add([]byte("\n\n\n"), uint8(0))
	f.Add(bytes.Repeat([]byte("12\n"), 100), uint8(7))
	f.Add([]byte(" -1_0 \r\n1__0\n+_1\n1_\n- 1\n"), uint8(3))
	f.Add([]byte(strings.Repeat("9", 70)+"\n5\n"), uint8(20))
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		r := rand.New(rand.NewSource(int64(piece)))
		cuts := cutsFrom(r, len(data), int(piece)+1)
		if got, want := answerCuts(t, data, cuts, nil), wantReplies(data); got != want {
			t.Fatalf("%.100q cut at %.100s:\ngot  %.200q\nwant %.200q", data, fmt.Sprint(cuts), got, want)
		}
		checkRefusals(t, data, answerCuts(t, data, cuts, NewBudget(0)))
	})
}
