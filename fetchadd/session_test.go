package fetchadd

import (
	"bytes"
	"fmt"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"fetchadd/internal/testwait"
)

func answerAll(in string, pieces int) string {
	var c Counter
	s := NewSession(&c, nil)
	var out []byte
	for i := 0; i < len(in); i += pieces {
		piece := []byte(in[i:min(i+pieces, len(in))])
		for len(piece) > 0 {
			var used int
			out, used = s.Answer(out, piece, len(out)+100)
			piece = piece[used:]
		}
	}
	return string(s.Finish(out))
}

func TestSession(t *testing.T) {
	testwait.Watchdog(t) // a framer that loops would hang it
	spaces := strings.Repeat(" ", MaxLine)
	cases := []struct{ in, want string }{
		{"", ""},
		{"5\n", "  --> 0\r\n"},
		{"5\r\n3\r\n", "  --> 0\r\n  --> 5\r\n"},
		{"5\n3\nx\n-7\n", "  --> 0\r\n  --> 5\r\n!!!!\r\n  --> 8\r\n"},
		{"5\n3", "  --> 0\r\n  --> 5\r\n"},       // last line without LF
		{"\n\r\n", "!!!!\r\n!!!!\r\n"},           // empty lines are not numbers
		{"1\r", "  --> 0\r\n"},                   // CR is whitespace
		{"\xff\x00\n2\n", "!!!!\r\n  --> 0\r\n"}, // garbage
		{"٣\n", "!!!!\r\n"},                      // the wire is ASCII: int(b'\xd9\xa3') fails
		{" -1_0 \r\n+3\n", "  --> 0\r\n  --> -10\r\n"},
		{"1__0\n_1\n1_\n- 1\n1 2\n+\n", strings.Repeat("!!!!\r\n", 6)},

		// MaxLine bytes before the LF is a line; one more is too long,
		// however valid.
		{spaces + "\n1\n", "!!!!\r\n  --> 0\r\n"},                 // MaxLine of whitespace: a line, not a number
		{spaces[:MaxLine-1] + "1\n1\n", "  --> 0\r\n  --> 1\r\n"}, // MaxLine bytes: a number
		{spaces + "1\n1\n", "!!!!\r\n  --> 0\r\n"},                // MaxLine+1 bytes: too long
		{spaces + "1", "!!!!\r\n"},                                // too long, at the end of the stream
	}
	for _, tc := range cases {
		for _, pieces := range []int{1, 2, 7, 4096, 1 << 20} {
			if got := answerAll(tc.in, pieces); got != tc.want {
				t.Errorf("%.20q in pieces of %d: got %.60q, want %.60q", tc.in, pieces, got, tc.want)
			}
		}
	}
}

// wantReplies is what the server must answer to data, from whole lines:
// ParseBytes on each line not longer than MaxLine, and a counter kept in
// math/big.
func wantReplies(data []byte) string {
	var out strings.Builder
	sum := new(big.Int)
	for _, v := range wantVerdicts(data) {
		n, ok := new(big.Int).SetString(v, 10)
		if !ok {
			out.WriteString(Invalid + CRLF)
			continue
		}
		out.WriteString("  --> " + sum.String() + CRLF)
		sum.Add(sum, n)
	}
	return out.String()
}

// cutsFrom returns random piece sizes, 1 to most, that add up to n.
func cutsFrom(r *rand.Rand, n, most int) []int {
	var cuts []int
	for n > 0 {
		c := min(1+r.Intn(most), n)
		cuts = append(cuts, c)
		n -= c
	}
	return cuts
}

// answerCuts feeds data to a new session in pieces of the sizes in cuts,
// checking what it holds after each, and returns the replies. Then it
// checks that the session gives back all it held.
func answerCuts(t *testing.T, data []byte, cuts []int, b *Budget) string {
	t.Helper()
	var c Counter
	s := NewSession(&c, b)
	var out []byte
	for _, n := range cuts {
		piece := data[:n]
		data = data[n:]
		for len(piece) > 0 {
			var used int
			out, used = s.Answer(out, piece, len(out)+100)
			piece = piece[used:]
		}
		checkHeld(t, &s.framer)
		if b != nil && b.held.Load() != int64(s.framer.held) {
			t.Fatalf("budget counts %d bytes, the one session holds %d", b.held.Load(), s.framer.held)
		}
	}
	out = s.Finish(out)
	s.Close()
	s.Close()
	if s.framer.held != 0 || (b != nil && b.held.Load() != 0) {
		t.Fatalf("after Close the session holds %d bytes, the budget counts %d", s.framer.held, b.held.Load())
	}
	return string(out)
}

// checkRefusals checks the replies got to data from a session that had no
// budget to spare: a line that needed more than the floor may be refused
// (it has at least 64 digits: the floor holds a sign and 63), and every
// other line is answered as if the refused ones had not been sent.
func checkRefusals(t *testing.T, data []byte, got string) {
	t.Helper()
	replies := strings.SplitAfter(got, CRLF)
	replies = replies[:len(replies)-1] // after the last CRLF: ""
	lines := bytes.Split(data, []byte("\n"))
	verdicts := wantVerdicts(data)
	if len(replies) != len(verdicts) {
		t.Fatalf("%d replies to %d lines", len(replies), len(verdicts))
	}
	sum := new(big.Int)
	for i, v := range verdicts {
		n, ok := new(big.Int).SetString(v, 10)
		want := Invalid + CRLF
		if ok {
			want = "  --> " + sum.String() + CRLF
		}
		switch {
		case replies[i] == Busy+CRLF && countDigits(lines[i]) >= lineFloor:
			continue // refused: not added
		case replies[i] != want:
			t.Fatalf("line %d (%.40q): reply %.60q, want %.60q", i, lines[i], replies[i], want)
		}
		if ok {
			sum.Add(sum, n)
		}
	}
}

func countDigits(b []byte) int {
	n := 0
	for _, c := range b {
		if '0' <= c && c <= '9' {
			n++
		}
	}
	return n
}

// randomLines makes input that reaches every part of the grammar and the
// limits: short lines from the grammar's alphabet, numbers with signs,
// underscores and whitespace, numbers about the floor's and MaxDigits'
// size, and lines about MaxLine long.
func randomLines(r *rand.Rand) []byte {
	var b []byte
	for lines := r.Intn(8); lines >= 0; lines-- {
		switch r.Intn(6) {
		case 0, 1:
			const alphabet = "0123456789 _+-\t\r\vx"
			for n := r.Intn(12); n > 0; n-- {
				b = append(b, alphabet[r.Intn(len(alphabet))])
			}
		case 2:
			b = append(b, randomNumber(r, 1+r.Intn(25))...)
		case 3:
			b = append(b, randomNumber(r, lineFloor-3+r.Intn(6))...)
		case 4:
			b = append(b, randomNumber(r, MaxDigits-2+r.Intn(4))...)
		case 5:
			num := randomNumber(r, 1+r.Intn(30))
			pad := max(0, MaxLine-len(num)-2+r.Intn(4))
			b = append(append(b, bytes.Repeat([]byte{" \t"[r.Intn(2)]}, pad)...), num...)
		}
		if lines > 0 || r.Intn(2) == 0 {
			b = append(b, '\n')
		}
	}
	return b
}

// randomNumber makes a number of the given digits, with whitespace, a
// sign and underscores at random, now and then broken by one byte.
func randomNumber(r *rand.Rand, digits int) []byte {
	var b []byte
	b = append(b, "   \t\r"[:r.Intn(6)]...)
	b = append(b, "+-"[:r.Intn(3)]...)
	for i := 0; i < digits; i++ {
		if i > 0 && r.Intn(8) == 0 {
			b = append(b, '_')
		}
		b = append(b, byte('0'+r.Intn(10)))
	}
	b = append(b, " \r\r"[:r.Intn(4)]...)
	if r.Intn(8) == 0 {
		b[r.Intn(len(b))] = "_ x-"[r.Intn(4)]
	}
	return b
}

// TestSessionSplits is the property: whatever the input and wherever it is
// cut, the replies are those of the whole lines.
func TestSessionSplits(t *testing.T) {
	testwait.Watchdog(t) // a framer that loops would hang it
	r := rand.New(rand.NewSource(1))
	n := 1000
	if testing.Short() {
		n = 100
	}
	for i := 0; i < n; i++ {
		data := randomLines(r)
		most := []int{1, 3, 16, 70, 5000, 1 << 20}[r.Intn(6)]
		cuts := cutsFrom(r, len(data), most)
		if got, want := answerCuts(t, data, cuts, nil), wantReplies(data); got != want {
			t.Fatalf("%.100q cut at %.100s:\ngot  %.200q\nwant %.200q", data, fmt.Sprint(cuts), got, want)
		}
		checkRefusals(t, data, answerCuts(t, data, cuts, NewBudget(0)))
	}
}

// TestBeyondPythonsPrintLimit is the one deliberate difference from the
// handout's program: Python 3.11 refuses to print an int of more than 4300
// digits (after adding it), fetchadd prints it.
func TestBeyondPythonsPrintLimit(t *testing.T) {
	nines := strings.Repeat("9", MaxDigits)
	got := answerAll(nines+"\n"+nines+"\n1\n", 4096)
	want := "  --> 0\r\n  --> " + nines + "\r\n  --> 1" + strings.Repeat("9", MaxDigits-1) + "8\r\n"
	if got != want {
		t.Fatalf("got %.60q..., want %.60q...", got, want)
	}
}

// TestAnswerAllocs: the int64 path allocates nothing per line, with a
// budget or without.
func TestAnswerAllocs(t *testing.T) {
	for _, b := range []*Budget{nil, NewBudget(DefaultLineBudget)} {
		var c Counter
		s := NewSession(&c, b)
		in := []byte(strings.Repeat("1\r\n-12345\n  +999_999 \n", 10))
		out := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(100, func() { out, _ = s.Answer(out[:0], in, cap(out)) })
		if allocs != 0 {
			t.Fatalf("%v allocations per Answer of 30 lines, want 0", allocs)
		}
	}
}

// TestAnswerLimit: a two-byte line can get a reply of thousands of bytes;
// Answer stops at the limit so that a server's output stays bounded.
func TestAnswerLimit(t *testing.T) {
	var c Counter
	c.Add(fromBig(new(big.Int).Exp(big.NewInt(10), big.NewInt(4000), nil)))
	s := NewSession(&c, nil)
	in := []byte(strings.Repeat("1\n", 1000))
	out, used := s.Answer(nil, in, 10000)
	if used != 6 || strings.Count(string(out), "\r\n") != 3 {
		t.Fatalf("used %d bytes for %d replies (%d bytes); want 3 lines of 4000-digit replies", used, strings.Count(string(out), "\r\n"), len(out))
	}
}

// TestAnswerLimitExact: Answer stops after the line whose reply takes out
// to the limit or past it, not one line before or after: a limit exactly
// one reply long gets one reply, a byte more gets two.
func TestAnswerLimitExact(t *testing.T) {
	const reply = len("  --> 0\r\n")
	for _, tc := range []struct{ start, limit, replies int }{
		{0, 1, 1}, {0, reply - 1, 1}, {0, reply, 1}, {0, reply + 1, 2},
		{0, 2 * reply, 2}, {0, 2*reply + 1, 3},
		{reply, reply, 1}, {reply, 2 * reply, 1}, {reply, 2*reply + 1, 2}, // out holds a reply already
	} {
		var c Counter
		s := NewSession(&c, nil)
		out, used := s.Answer(make([]byte, tc.start), []byte("0\n0\n0\n0\n"), tc.limit)
		if got := strings.Count(string(out[tc.start:]), "\r\n"); got != tc.replies || used != 2*tc.replies {
			t.Errorf("out of %d bytes, limit %d: %d replies, %d bytes used; want %d, %d", tc.start, tc.limit, got, used, tc.replies, 2*tc.replies)
		}
	}
}
