package fetchadd

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func BenchmarkParseSmall(b *testing.B) {
	in := []byte("  -1234567\r")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ParseBytes(in)
	}
}

func BenchmarkParseBig(b *testing.B) {
	in := []byte(strings.Repeat("9", 100))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ParseBytes(in)
	}
}

func BenchmarkCounterAdd(b *testing.B) {
	var c Counter
	one := Int(1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.Add(one)
	}
}

// BenchmarkCounterAddContended: every CPU adds to one counter at once.
func BenchmarkCounterAddContended(b *testing.B) {
	var c Counter
	one := Int(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add(one)
		}
	})
}

// BenchmarkCounterAddMutexBaseline is a bare mutex around an int64: what
// the counter's lock alone costs, for comparison.
func BenchmarkCounterAddMutexBaseline(b *testing.B) {
	var mu sync.Mutex
	var v int64
	for i := 0; i < b.N; i++ {
		mu.Lock()
		v++
		mu.Unlock()
	}
	_ = v
}

func BenchmarkFramer(b *testing.B) {
	in := bytes.Repeat([]byte("1\r\n"), 1000)
	var f Framer
	lines := 0
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Feed(in, func([]byte, bool) bool { lines++; return true })
	}
}

// BenchmarkSessionAnswer is the whole per-request path of a server: frame,
// parse, add, format, for 1000 pipelined lines a call.
func BenchmarkSessionAnswer(b *testing.B) {
	var c Counter
	s := NewSession(&c, nil)
	in := bytes.Repeat([]byte("1\r\n"), 1000)
	out := make([]byte, 0, 64*1000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out, _ = s.Answer(out[:0], in, cap(out))
	}
}
