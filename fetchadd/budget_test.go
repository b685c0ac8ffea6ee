package fetchadd

import (
	"math/rand"
	"strings"
	"sync"
	"testing"

	"fetchadd/internal/testwait"
)

// feed passes in to s whole and returns the replies.
func feed(s *Session, in string) string {
	var out []byte
	for p := []byte(in); len(p) > 0; {
		var used int
		out, used = s.Answer(out, p, len(out)+1000)
		p = p[used:]
	}
	return string(out)
}

func wantHeld(t *testing.T, b *Budget, want int64) {
	t.Helper()
	if got := b.held.Load(); got != want {
		t.Fatalf("budget counts %d bytes held, want %d", got, want)
	}
}

// TestBudgetRefusesPastLimit: a line is refused only when the sessions
// together would pass the limit, and only in a session that already holds
// the floor; the refused session gives back what it held, and the others
// go on.
func TestBudgetRefusesPastLimit(t *testing.T) {
	var c Counter
	b := NewBudget(4 * lineFloor)
	digits := func(n int) string { return strings.Repeat("1", n) }

	s1 := NewSession(&c, b)
	feed(s1, digits(100)) // room for the sign and 100 digits, within the limit
	wantHeld(t, b, 101)
	s2 := NewSession(&c, b)
	feed(s2, digits(154)) // the same: exactly at the limit, not past it
	wantHeld(t, b, 4*lineFloor)

	s3 := NewSession(&c, b)
	feed(s3, "-"+digits(60)) // within the floor: allowed past the limit
	wantHeld(t, b, 4*lineFloor+lineFloor)
	if got := feed(s3, digits(10)); got != "" { // 70 digits: past the floor, refused
		t.Fatalf("reply %q before the LF", got)
	}
	wantHeld(t, b, 4*lineFloor) // s3 gave back its floor
	feed(s3, digits(5000))      // dropped, counting nothing
	wantHeld(t, b, 4*lineFloor)
	if got := feed(s3, "9\n7\n"); got != Busy+CRLF+"  --> 0\r\n" {
		t.Fatalf("refused line, then 7: got %q", got)
	}

	if got := feed(s1, "\n"); got != "  --> 7\r\n" { // s1's line is whole
		t.Fatalf("s1's line: got %q", got)
	}
	wantHeld(t, b, 4*lineFloor-101)
	feed(s3, digits(100)) // room again
	wantHeld(t, b, 4*lineFloor-101+101)
	for _, s := range []*Session{s1, s2, s3} {
		s.Close()
	}
	wantHeld(t, b, 0)
}

// TestBudgetFloor: with no budget at all, a session still splits any
// number of the floor's size across reads; only a longer one is refused,
// and a long line that comes whole is never held, so never refused.
func TestBudgetFloor(t *testing.T) {
	var c Counter
	b := NewBudget(0)
	s := NewSession(&c, b)
	for _, in := range []string{"-9223372036854775808", " +" + strings.Repeat("0", lineFloor-2) + "1 \r", strings.Repeat("1_", 62) + "1\r"} {
		for cut := 0; cut <= len(in); cut++ {
			if got := feed(s, in[:cut]) + feed(s, in[cut:]+"\n"); strings.HasPrefix(got, Invalid) {
				t.Fatalf("%q cut at %d: got %q", in, cut, got)
			}
			wantHeld(t, b, 0)
		}
	}
	long := strings.Repeat("1", lineFloor)
	if got := feed(s, long+"\n"); strings.HasPrefix(got, Invalid) {
		t.Fatalf("a whole line of %d digits: %q", lineFloor, got)
	}
	if got := feed(s, long) + feed(s, "\n"); got != Busy+CRLF {
		t.Fatalf("%d digits, then the LF: got %q, want Busy", lineFloor, got)
	}
	s.Close()
	wantHeld(t, b, 0)
}

// TestBusyInOrder: the refusal comes at the refused line's LF, in its
// turn among the other replies, and only once.
func TestBusyInOrder(t *testing.T) {
	b := NewBudget(0)
	in := "1\n" + strings.Repeat("5", 200) + "\n" + "2\n" + "x\n" + strings.Repeat("5", 200) + "\n3"
	for _, size := range []int{1, 7, 100, 150} {
		var c Counter
		s := NewSession(&c, b)
		var got string
		for i := 0; i < len(in); i += size {
			got += feed(s, in[i:min(i+size, len(in))])
		}
		got = string(s.Finish([]byte(got)))
		want := "  --> 0\r\n" + Busy + CRLF + "  --> 1\r\n!!!!\r\n" + Busy + CRLF + "  --> 3\r\n"
		if got != want {
			t.Fatalf("pieces of %d: got %q, want %q", size, got, want)
		}
		wantHeld(t, b, 0) // Finish gave back
		s.Close()
	}
}

// TestBudgetClose: Close gives back all a session holds, at any point of a
// line, and a second Close gives nothing more.
func TestBudgetClose(t *testing.T) {
	var c Counter
	b := NewBudget(DefaultLineBudget)
	for _, in := range []string{"", "  ", "-", "12", "1_", "12 ", strings.Repeat("3", 1000), strings.Repeat("3", 1000) + "x"} {
		s := NewSession(&c, b)
		feed(s, "7\n"+in)
		s.Close()
		wantHeld(t, b, 0)
		s.Close()
		wantHeld(t, b, 0)
		if got := feed(s, "1\n"); !strings.HasPrefix(got, "  --> ") { // a closed session starts afresh
			t.Fatalf("after Close of %q: got %q", in, got)
		}
	}
}

// TestBudgetShared: many sessions on many goroutines send long lines in
// small pieces against one budget. The count stays within the limit and
// the floor of each session, and comes back to zero.
func TestBudgetShared(t *testing.T) {
	const sessions, limit = 16, 8 * 1024
	var c Counter
	b := NewBudget(limit)
	var wg sync.WaitGroup
	for g := 0; g < sessions; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			s := NewSession(&c, b)
			defer s.Close()
			for i := 0; i < 50; i++ {
				in := []byte(strings.Repeat("7", r.Intn(2*MaxDigits)) + "\n")
				for len(in) > 0 {
					n := min(1+r.Intn(300), len(in))
					feed(s, string(in[:n]))
					in = in[n:]
					if h := b.held.Load(); h > 2*limit+sessions*lineFloor || h < 0 {
						t.Errorf("budget counts %d bytes, bound %d", h, 2*limit+sessions*lineFloor)
						return
					}
				}
				if r.Intn(10) == 0 {
					feed(s, "12")
					s.Close()
				}
			}
		}(int64(g))
	}
	testwait.Group(t, &wg, "the sessions")
	wantHeld(t, b, 0)
}

// TestBudgetRefusesTheLargest: past the limit, a session that would hold
// more than an equal share is refused, and one that holds less goes on.
func TestBudgetRefusesTheLargest(t *testing.T) {
	var c Counter
	b := NewBudget(1000)
	digits := func(n int) string { return strings.Repeat("1", n) }
	var big []*Session
	for i := 0; i < 3; i++ { // three hold 300 bytes each: 900
		s := NewSession(&c, b)
		feed(s, digits(299))
		big = append(big, s)
	}
	wantHeld(t, b, 900)
	small := NewSession(&c, b)
	feed(small, digits(199)) // 200, past the limit, but within a share (250)
	wantHeld(t, b, 1100)
	feed(big[0], digits(50)) // would hold 600: more than a share
	wantHeld(t, b, 800)
	if got := feed(big[0], "\n"); got != Busy+CRLF {
		t.Fatalf("the largest holder's line: %q, want Busy", got)
	}
	if got := feed(small, "\n"); !strings.HasPrefix(got, "  --> ") {
		t.Fatalf("the small holder's line: %q", got)
	}
	for _, s := range append(big, small) {
		s.Close()
	}
	wantHeld(t, b, 0)
}

// TestBudgetHolders: the holders a share is counted over go up with each
// session that starts holding and down with each that gives back, so
// that past the limit a newcomer's share is the limit over the sessions
// holding now, itself counted.
func TestBudgetHolders(t *testing.T) {
	var c Counter
	b := NewBudget(1000)
	digits := func(n int) string { return strings.Repeat("1", n) }
	for i := 0; i < 10; i++ { // ten come, hold and go: none holds now
		s := NewSession(&c, b)
		feed(s, digits(99))
		if got := b.holders.Load(); got != 1 {
			t.Fatalf("%d holders while one session holds", got)
		}
		feed(s, "\n")
		s.Close()
	}
	if got := b.holders.Load(); got != 0 {
		t.Fatalf("%d holders after all gave back", got)
	}
	a, n := NewSession(&c, b), NewSession(&c, b)
	feed(a, digits(899))
	feed(n, digits(399)) // past the limit; a share of two is 500
	wantHeld(t, b, 1300)
	feed(a, digits(200)) // 1,100: more than a share of two
	wantHeld(t, b, 400)
	a.Close()
	n.Close()
	// A newcomer counts itself: one holding 600 and a newcomer of 600
	// are two, a share of 500 each, and the newcomer is refused.
	a, n = NewSession(&c, b), NewSession(&c, b)
	feed(a, digits(600))
	feed(n, digits(600))
	wantHeld(t, b, 601)
	a.Close()
	n.Close()
}
