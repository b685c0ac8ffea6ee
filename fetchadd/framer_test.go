package fetchadd

import (
	"bytes"
	"strings"
	"testing"
)

type frame struct {
	line    string
	tooLong bool
}

// feedAll feeds the framer data in pieces of the given sizes (cycled),
// then flushes, and returns the lines it got.
func feedAll(data []byte, sizes ...int) []frame {
	var f Framer
	var got []frame
	emit := func(line []byte, tooLong bool) bool { got = append(got, frame{string(line), tooLong}); return true }
	for i := 0; len(data) > 0; i++ {
		n := len(data)
		if len(sizes) > 0 && sizes[i%len(sizes)] < n {
			n = sizes[i%len(sizes)]
		}
		f.Feed(data[:n], emit)
		data = data[n:]
	}
	f.Flush(emit)
	return got
}

// wantFrames is the framing rule written plainly: split at LF, a last
// piece without LF is a line if it is not empty, a line over MaxLine is
// one tooLong frame.
func wantFrames(data []byte) []frame {
	var want []frame
	parts := bytes.Split(data, []byte("\n"))
	for i, p := range parts {
		if i == len(parts)-1 && len(p) == 0 {
			break
		}
		if len(p) > MaxLine {
			want = append(want, frame{"", true})
		} else {
			want = append(want, frame{string(p), false})
		}
	}
	return want
}

func sameFrames(a, b []frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFramer(t *testing.T) {
	long := strings.Repeat("7", MaxLine)
	inputs := []string{
		"", "1", "1\n", "1\n2\n3\n", "1\r\n2\r\n", "\n\n", "1\n2", "\r",
		long + "\n", long + "1\n2\n", long + "12\n3", long, long + "1",
		"1\n" + long + long + "\n2\n",
	}
	for _, in := range inputs {
		want := wantFrames([]byte(in))
		for _, sizes := range [][]int{nil, {1}, {2}, {3, 1}, {MaxLine - 1}, {MaxLine}, {MaxLine + 1}, {4096}} {
			if got := feedAll([]byte(in), sizes...); !sameFrames(got, want) {
				t.Errorf("input of %d bytes in pieces of %v: got %d frames, want %d (%.40v vs %.40v)", len(in), sizes, len(got), len(want), got, want)
			}
		}
	}
}

// TestFramerBoundsMemory: a line with no end is not kept whole.
func TestFramerBoundsMemory(t *testing.T) {
	var f Framer
	chunk := bytes.Repeat([]byte("9"), 4096)
	for i := 0; i < 1024; i++ { // 4 MiB, no LF
		f.Feed(chunk, func([]byte, bool) bool { t.Fatal("no line has ended"); return false })
		if f.Pending() > MaxLine || cap(f.partial) > 2*MaxLine {
			t.Fatalf("framer holds %d bytes (cap %d) after %d KiB", f.Pending(), cap(f.partial), 4*(i+1))
		}
	}
	var got []frame
	f.Feed([]byte("\n5\n"), func(l []byte, tl bool) bool { got = append(got, frame{string(l), tl}); return true })
	if !sameFrames(got, []frame{{"", true}, {"5", false}}) {
		t.Fatalf("got %v, want one tooLong then 5", got)
	}
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte("1\n2\r\n3"), uint8(1))
	f.Add([]byte("\n\n\n"), uint8(0))
	f.Add(bytes.Repeat([]byte("12\n"), 100), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		if got, want := feedAll(data, int(piece)+1), wantFrames(data); !sameFrames(got, want) {
			t.Fatalf("got %d frames, want %d", len(got), len(want))
		}
	})
}

// TestFramerStops: when emit says stop, Feed returns the bytes used up to
// that line's end, and a later Feed of the rest goes on where it stopped.
func TestFramerStops(t *testing.T) {
	var f Framer
	in := []byte("1\n22\n333\n4")
	var got []string
	stopAfter := func(n int) func([]byte, bool) bool {
		return func(line []byte, _ bool) bool { got = append(got, string(line)); return len(got) < n }
	}
	if used := f.Feed(in, stopAfter(2)); used != 5 {
		t.Fatalf("used %d, want 5 (through the LF of the second line)", used)
	}
	if used := f.Feed(in[5:], stopAfter(10)); used != len(in)-5 {
		t.Fatalf("used %d of the rest, want all %d", used, len(in)-5)
	}
	f.Flush(stopAfter(10))
	if strings.Join(got, ",") != "1,22,333,4" {
		t.Fatalf("lines %q", got)
	}
}
