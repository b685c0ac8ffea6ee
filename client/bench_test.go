package client

import (
	"testing"
	"time"
)

func TestHistogramPercentiles(t *testing.T) {
	var h Histogram
	for us := uint64(1); us <= 100000; us++ {
		h.Record(us, 1)
	}
	for _, p := range []float64{1, 50, 90, 99, 99.9} {
		want := p / 100 * 100000
		got := float64(h.Percentile(p).Microseconds())
		if got < want*0.98-1 || got > want*1.02+1 {
			t.Errorf("p%v = %v µs, want %v ±2%%", p, got, want)
		}
	}
	if got := h.Percentile(100); got != 100000*time.Microsecond {
		t.Errorf("max = %v, want 100ms exactly", got)
	}
	var empty Histogram
	if empty.Percentile(50) != 0 {
		t.Errorf("empty histogram has a median")
	}
}

func TestBucketsRoundTrip(t *testing.T) {
	for _, us := range []uint64{0, 1, 127, 128, 129, 1000, 65535, 1 << 20, 1<<40 + 12345} {
		floor := bucketFloor(bucketOf(us))
		if floor > us || float64(us-floor) > float64(us)/64+1 {
			t.Errorf("%d µs falls in a bucket starting at %d", us, floor)
		}
	}
}

// TestCheckDistinct: repeats within a worker and across workers, and
// values outside the range, are all caught.
func TestCheckDistinct(t *testing.T) {
	mk := func(vals ...int64) *benchWorker {
		w := &benchWorker{base: 100}
		for _, v := range vals {
			w.mark(v)
		}
		return w
	}
	cases := []struct {
		name          string
		workers       []*benchWorker
		requests      int64
		dups, outside int64
	}{
		{"all different", []*benchWorker{mk(100, 102), mk(101, 103)}, 4, 0, 0},
		{"repeat in a worker", []*benchWorker{mk(100, 100), mk(101, 102)}, 4, 1, 0},
		{"repeat across workers", []*benchWorker{mk(100, 101), mk(101, 102)}, 4, 1, 0},
		{"below the start", []*benchWorker{mk(99, 100), mk(101, 102)}, 4, 0, 1},
		{"past the end", []*benchWorker{mk(100, 101), mk(102, 104)}, 4, 0, 1},
		{"far past the end", []*benchWorker{mk(100, 101), mk(102, 100+maxSpan)}, 4, 0, 1},
	}
	for _, tc := range cases {
		r := &BenchResult{Requests: tc.requests, Base: 100}
		r.checkDistinct(tc.workers)
		if r.Dups != tc.dups || r.Outside != tc.outside || r.Distinct != (tc.dups == 0 && tc.outside == 0) {
			t.Errorf("%s: dups %d outside %d distinct %v; want %d, %d", tc.name, r.Dups, r.Outside, r.Distinct, tc.dups, tc.outside)
		}
	}
}

func TestProtocolReplies(t *testing.T) {
	cases := []struct {
		p    *Protocol
		line string
		want int64
		ok   bool
	}{
		{FetchAdd, "  --> 41\r\n", 41, true},
		{FetchAdd, "  --> -7\r\n", -7, true},
		{FetchAdd, "!!!!\r\n", 0, false},
		{Redis, ":42\r\n", 41, true},
		{Redis, "-ERR value is not an integer\r\n", 0, false},
		{Memcache, "42\r\n", 41, true},
		{Memcache, "NOT_FOUND\r\n", 0, false},
	}
	for _, tc := range cases {
		got, ok := tc.p.Reply([]byte(tc.line), 1)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s reply %q = %d, %v; want %d, %v", tc.p.Name(), tc.line, got, ok, tc.want, tc.ok)
		}
	}
}
