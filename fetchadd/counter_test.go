package fetchadd

import (
	"math"
	"math/big"
	"sync"
	"testing"

	"fetchadd/internal/testwait"
)

func TestCounterReturnsOldValue(t *testing.T) {
	var c Counter
	for i, step := range []struct{ add, old int64 }{{5, 0}, {3, 5}, {-7, 8}, {0, 1}, {10, 1}} {
		if got := c.Add(Int(step.add)); got.Cmp(Int(step.old)) != 0 {
			t.Fatalf("step %d: Add(%d) = %v, want %d", i, step.add, got, step.old)
		}
	}
	if got := c.Value(); got.Cmp(Int(11)) != 0 {
		t.Fatalf("Value() = %v, want 11", got)
	}
}

// TestCounterLeavesAndReturnsToInt64: past the int64 range the counter
// goes on exactly, in a big.Int, and comes back to an int64 when the value
// does.
func TestCounterLeavesAndReturnsToInt64(t *testing.T) {
	var c Counter
	c.Add(Int(math.MaxInt64))
	c.Add(Int(1))
	v := c.Value()
	if v.IsInt64() || v.String() != "9223372036854775808" {
		t.Fatalf("MaxInt64+1 = %v (int64 form %v), want 9223372036854775808 in a big.Int", v, v.IsInt64())
	}
	if old := c.Add(Int(math.MaxInt64)); old.String() != "9223372036854775808" {
		t.Fatalf("old value %v", old)
	}
	if got := c.Value().String(); got != "18446744073709551615" {
		t.Fatalf("value %s, want 18446744073709551615", got)
	}
	c.Add(Int(math.MinInt64))
	c.Add(Int(math.MinInt64))
	if v := c.Value(); !v.IsInt64() || v.Int64() != -1 {
		t.Fatalf("value %v (int64 form %v), want -1 as an int64", v, v.IsInt64())
	}
	c.Add(Int(math.MinInt64))
	if v := c.Value(); v.IsInt64() || v.String() != "-9223372036854775809" {
		t.Fatalf("value %v, want -9223372036854775809 in a big.Int", v)
	}
}

func TestNumberAddMatchesBig(t *testing.T) {
	vals := []int64{0, 1, -1, 2, math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1, 1 << 62, -(1 << 62)}
	for _, a := range vals {
		for _, b := range vals {
			want := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
			got := Int(a).Add(Int(b))
			if got.toBig().Cmp(want) != 0 || got.IsInt64() != want.IsInt64() {
				t.Errorf("%d + %d = %v (int64 form %v), want %v", a, b, got, got.IsInt64(), want)
			}
		}
	}
}

// TestCounterConcurrent: concurrent adds of 1 hand out every value from 0
// to N-1 exactly once (run it with -race).
func TestCounterConcurrent(t *testing.T) {
	const workers, each = 8, 2000
	var c Counter
	got := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				got[w] = append(got[w], c.Add(Int(1)).Int64())
			}
		}(w)
	}
	testwait.Group(t, &wg, "the adds")
	seen := make([]bool, workers*each)
	for _, vs := range got {
		for _, v := range vs {
			if v < 0 || v >= int64(len(seen)) || seen[v] {
				t.Fatalf("value %d handed out twice or out of range", v)
			}
			seen[v] = true
		}
	}
	if v := c.Value(); v.Int64() != workers*each {
		t.Fatalf("final value %v, want %d", v, workers*each)
	}
}
