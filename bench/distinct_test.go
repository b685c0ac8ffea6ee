package bench

import "testing"

// TestCheckDistinct: repeats within a worker and across workers, and
// values outside the range, are all caught.
func TestCheckDistinct(t *testing.T) {
	l := sentLoad(4)
	mk := func(vals ...int64) *worker {
		w := &worker{l: l, base: 100}
		for _, v := range vals {
			w.mark(v)
		}
		return w
	}
	cases := []struct {
		name          string
		workers       []*worker
		requests      int64
		dups, outside int64
	}{
		{"all different", []*worker{mk(100, 102), mk(101, 103)}, 4, 0, 0},
		{"repeat in a worker", []*worker{mk(100, 100), mk(101, 102)}, 4, 1, 0},
		{"repeat across workers", []*worker{mk(100, 101), mk(101, 102)}, 4, 1, 0},
		{"below the start", []*worker{mk(99, 100), mk(101, 102)}, 4, 0, 1},
		{"past the end", []*worker{mk(100, 101), mk(102, 104)}, 4, 0, 1},
		{"far past the end", []*worker{mk(100, 101), mk(102, 100+1<<34)}, 4, 0, 1},
	}
	for _, tc := range cases {
		r := &Result{Requests: tc.requests, Sent: l.taken(), Base: 100}
		r.checkDistinct(tc.workers)
		if r.Dups != tc.dups || r.Outside != tc.outside || r.Distinct != (tc.dups == 0 && tc.outside == 0) {
			t.Errorf("%s: dups %d outside %d distinct %v; want %d, %d", tc.name, r.Dups, r.Outside, r.Distinct, tc.dups, tc.outside)
		}
	}
}

// TestBitmapBounded: the bitmap grows no further than the requests sent
// so far (a reply above them is outside, at once), nor than maxWindow (a
// reply past it, which the run could have reached, is counted as not
// checked): a reply 2^34 above the start costs no memory.
func TestBitmapBounded(t *testing.T) {
	w := &worker{l: sentLoad(1000), base: 100}
	w.mark(100 + 1<<34)
	w.mark(100 + 1000)
	w.mark(100 + 999)
	if got := len(w.seen) * 64; got > 2*1000 {
		t.Errorf("1000 requests sent: the bitmap holds %d bits", got)
	}
	if w.outside != 2 || w.unchecked != 0 {
		t.Errorf("outside %d, unchecked %d; want 2, 0", w.outside, w.unchecked)
	}

	w = &worker{l: sentLoad(1 << 40), base: 100}
	w.mark(100 + maxWindow - 1)
	w.mark(100 + maxWindow)
	w.mark(100 + 1<<34)
	if got := len(w.seen) * 64; got > maxWindow {
		t.Errorf("the bitmap holds %d bits, past maxWindow %d", got, maxWindow)
	}
	if w.outside != 0 || w.unchecked != 2 {
		t.Errorf("outside %d, unchecked %d; want 0, 2", w.outside, w.unchecked)
	}
	r := &Result{Requests: 3, Sent: 1 << 40, Base: 100}
	r.checkDistinct([]*worker{w})
	if !r.Distinct || r.Unchecked != 2 || r.Window != maxWindow {
		t.Errorf("distinct %v, unchecked %d, window %d; want true, 2, %d", r.Distinct, r.Unchecked, r.Window, maxWindow)
	}
}

// sentLoad is a run's load that has sent n requests.
func sentLoad(n int64) *load {
	l := &load{total: 1 << 62}
	l.left.Store(l.total - n)
	return l
}
