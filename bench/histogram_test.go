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
