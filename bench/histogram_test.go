package bench

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

// TestPercentileRank: below 128 µs the buckets are exact, so the
// percentiles of 1..n µs are the nearest ranks themselves: p of n
// latencies, rounded up. An off-by-one anywhere (the rank, the count
// compared with it, the bucket returned) gives a neighbour.
func TestPercentileRank(t *testing.T) {
	cases := []struct {
		n    uint64
		p    float64
		want uint64
	}{
		{100, 50, 50}, {100, 1, 1}, {100, 99, 99}, {100, 29, 29}, {100, 99.5, 100},
		{10, 14, 2}, {10, 10, 1}, {10, 25, 3}, {10, 90, 9}, {10, 91, 10},
		{1, 50, 1}, {3, 50, 2},
	}
	for _, tc := range cases {
		var h Histogram
		for us := uint64(1); us <= tc.n; us++ {
			h.Record(us, 1)
		}
		if got := h.Percentile(tc.p); got != time.Duration(tc.want)*time.Microsecond {
			t.Errorf("p%v of 1..%d µs = %v, want %d µs", tc.p, tc.n, got, tc.want)
		}
	}
	var h Histogram // counts by the batch: 3 at 5 µs, 1 at 7 µs
	h.Record(5, 3)
	h.Record(7, 1)
	if got := h.Percentile(75); got != 5*time.Microsecond {
		t.Errorf("p75 of 5,5,5,7 µs = %v, want 5µs", got)
	}
	if got := h.Percentile(76); got != 7*time.Microsecond {
		t.Errorf("p76 of 5,5,5,7 µs = %v, want 7µs", got)
	}
}
