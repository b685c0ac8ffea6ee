package fetchadd

import (
	"math/big"
	"strings"
	"testing"
)

func answerAll(in string, pieces int) string {
	var c Counter
	s := NewSession(&c)
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
	long := strings.Repeat(" ", MaxLine)
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
		{long + "\n1\n", "  --> 0\r\n  --> 1\r\n"[:0] + "!!!!\r\n  --> 0\r\n"},
		{long[:MaxLine-1] + "1\n1\n", "  --> 0\r\n  --> 1\r\n"}, // exactly MaxLine bytes: a line
		{long + "1", "!!!!\r\n"},
	}
	for _, tc := range cases {
		for _, pieces := range []int{1, 2, 7, 4096, 1 << 20} {
			if got := answerAll(tc.in, pieces); got != tc.want {
				t.Errorf("%.20q in pieces of %d: got %q, want %q", tc.in, pieces, got, tc.want)
			}
		}
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

// TestAnswerAllocs: the int64 path allocates nothing per line.
func TestAnswerAllocs(t *testing.T) {
	var c Counter
	s := NewSession(&c)
	in := []byte(strings.Repeat("1\r\n-12345\n  +999_999 \n", 10))
	out := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() { out, _ = s.Answer(out[:0], in, cap(out)) })
	if allocs != 0 {
		t.Fatalf("%v allocations per Answer of 30 lines, want 0", allocs)
	}
}

// TestAnswerLimit: a two-byte line can get a reply of thousands of bytes;
// Answer stops at the limit so that a server's output stays bounded.
func TestAnswerLimit(t *testing.T) {
	var c Counter
	c.Add(fromBig(new(big.Int).Exp(big.NewInt(10), big.NewInt(4000), nil)))
	s := NewSession(&c)
	in := []byte(strings.Repeat("1\n", 1000))
	out, used := s.Answer(nil, in, 10000)
	if used != 6 || strings.Count(string(out), "\r\n") != 3 {
		t.Fatalf("used %d bytes for %d replies (%d bytes); want 3 lines of 4000-digit replies", used, strings.Count(string(out), "\r\n"), len(out))
	}
}
