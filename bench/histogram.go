package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts latencies in microseconds, in buckets of 1/64 of a
// power of two (below 128 µs, exactly): percentiles within 2%, in a fixed
// 64 KiB, whatever the number of requests.
type Histogram struct {
	counts [64 << subBits]uint64
	total  uint64
	max    uint64
}

// subBits is how many bits of a latency below its leading one a bucket
// keeps: 2^subBits buckets per power of two.
const subBits = 7

func bucketOf(us uint64) int {
	if us < 1<<subBits {
		return int(us)
	}
	e := bits.Len64(us) - subBits
	return e<<subBits | int(us>>e)
}

func bucketFloor(b int) uint64 {
	if b < 1<<subBits {
		return uint64(b)
	}
	e := b >> subBits
	return uint64(b&(1<<subBits-1)) << e
}

// Record counts n requests that took us microseconds.
func (h *Histogram) Record(us uint64, n int) {
	h.counts[bucketOf(us)] += uint64(n)
	h.total += uint64(n)
	h.max = max(h.max, us)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// Percentile returns the latency within which p percent of the requests
// took (0 < p <= 100), by nearest rank: the bucket of the ceil(p% of
// total)-th smallest latency (exact below 128 µs); 100 is the largest,
// exactly.
func (h *Histogram) Percentile(p float64) time.Duration {
	if p >= 100 {
		return time.Duration(h.max) * time.Microsecond
	}
	// The rank, less a hair so that float rounding (100 * 0.29 is
	// 28.999999999999996) does not push an exact rank to the next.
	want := max(uint64(math.Ceil(float64(h.total)*p/100-1e-9)), 1)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if c > 0 && seen >= want {
			return time.Duration(bucketFloor(b)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}
