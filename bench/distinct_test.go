package bench

import "testing"

// TestCheckDistinct: repeats within a worker and across workers, and
// values outside the range, are all caught.
func TestCheckDistinct(t *testing.T) {
	mk := func(vals ...int64) *worker {
		w := &worker{base: 100}
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
		{"far past the end", []*worker{mk(100, 101), mk(102, 100+maxSpan)}, 4, 0, 1},
	}
	for _, tc := range cases {
		r := &Result{Requests: tc.requests, Base: 100}
		r.checkDistinct(tc.workers)
		if r.Dups != tc.dups || r.Outside != tc.outside || r.Distinct != (tc.dups == 0 && tc.outside == 0) {
			t.Errorf("%s: dups %d outside %d distinct %v; want %d, %d", tc.name, r.Dups, r.Outside, r.Distinct, tc.dups, tc.outside)
		}
	}
}
