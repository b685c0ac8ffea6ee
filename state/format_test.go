package state

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"fetchadd/fetchadd"
)

// digits is a counter of n digits d, as a Number and as its decimal.
func digits(t *testing.T, d byte, n int) (fetchadd.Number, []byte) {
	t.Helper()
	b := bytes.Repeat([]byte{d}, n)
	v, ok := fetchadd.ParseDecimal(b)
	if !ok {
		t.Fatalf("%.10s... is not a number", b)
	}
	return v, b
}

// longFile makes a state file whose last two commits hold counters of
// n digits: commit 2 (slot 0) all 1s, commit 3 (slot 1) all 2s. It
// returns the file's bytes.
func longFile(t *testing.T, n int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "counter")
	f, c := openStarted(t, path)
	for _, d := range []byte("12") {
		v, _ := digits(t, d, n)
		c.mu.Lock()
		c.v, c.version = v, c.version+1
		c.mu.Unlock()
		if err := f.Sync(c.version); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decoded is what the file of bytes b reads as: its value's first digit
// and its length, or the error.
func decoded(b []byte) (string, error) {
	v, _, err := (&File{path: "counter", logger: quiet}).decode(b)
	if err != nil {
		return "", err
	}
	s := v.String()
	return s[:1] + "×" + itoa(len(s)), nil
}

var itoa = strconv.Itoa

// TestBitFlips: every bit of a long record (1,500 digits: four sectors),
// flipped one at a time. In the newer slot the file is refused, never
// read as the older value (a flip is damage, never a tear); in the older
// slot the newer value is read, or the file refused when the flip is in
// the older slot's sector 0, which says which commit that slot holds.
func TestBitFlips(t *testing.T) {
	const n = 1500
	b := longFile(t, n)
	newer, older := "2×"+itoa(n), "1×"+itoa(n)
	if got, err := decoded(b); err != nil || got != newer {
		t.Fatalf("the file reads %q, %v; want the newer value", got, err)
	}
	sectors := sectorsFor(n)
	if sectors < 4 {
		t.Fatalf("a record of %d digits takes %d sectors, want at least 4", n, sectors)
	}
	for _, at := range []int{slotSize, 0} { // slot 1 holds commit 3, the newer
		for i := at; i < at+sectors*sectorSize; i++ {
			for bit := 0; bit < 8; bit++ {
				b[i] ^= 1 << bit
				got, err := decoded(b)
				b[i] ^= 1 << bit
				switch {
				case got == older:
					t.Fatalf("byte %d bit %d flipped: the file reads as the older value", i, bit)
				case at == slotSize && err == nil:
					t.Fatalf("byte %d bit %d of the newer slot flipped: the file reads %s, want refused", i, bit, got)
				case at == 0 && i >= sectorSize && got != newer:
					t.Fatalf("byte %d bit %d of the older slot flipped: %q, %v; want the newer value", i, bit, got, err)
				case err != nil && !strings.Contains(err.Error(), "damaged"):
					t.Fatalf("byte %d bit %d flipped: %v", i, bit, err)
				}
			}
		}
	}
}

// TestTornWrite: a crash in the middle of commit 4 into slot 0, which
// held commit 2, leaves each of the slot's sectors of one or the other
// (in any order: a disk may write them so). Every mix reads as commit 3,
// the last one a client may have seen; all new sectors read as commit 4.
// The next commit may be longer or shorter than the one it writes over,
// whose sectors past its end are those the file was made with. And a
// failed commit's retry, under the same number, torn over the failed
// one's bytes, reads as commit 3 too.
func TestTornWrite(t *testing.T) {
	const n = 1500
	commit3 := "2×" + itoa(n)
	for _, m := range []int{600, n, 2500} {
		b := longFile(t, n)
		_, d := digits(t, '4', m)
		next := record(nil, 4, slotSize, d, 0)
		mixes(b, next, func(mix string, allNew bool) {
			want := commit3
			if allNew {
				want = "4×" + itoa(m)
			}
			if got, err := decoded(b); err != nil || got != want {
				t.Fatalf("commit 4 (%d digits) torn over commit 2, sectors %s (1: new): %q, %v; want %q", m, mix, got, err, want)
			}
		})
	}
	b := longFile(t, n)
	_, d := digits(t, '5', n)
	first := record(nil, 4, slotSize, d, 0)
	copy(b, first) // the failed try, all of it on disk
	_, d = digits(t, '6', n)
	retry := record(nil, 4, slotSize, d, 0)
	mixes(b, retry, func(mix string, allNew bool) {
		want := commit3
		if allNew {
			want = "6×" + itoa(n)
		} else if !strings.Contains(mix, "1") {
			want = "5×" + itoa(n)
		}
		if got, err := decoded(b); err != nil || got != want {
			t.Fatalf("commit 4's retry torn over its failed try, sectors %s (1: the retry's): %q, %v; want %q", mix, got, err, want)
		}
	})
}

// TestLaterSectorRefused: a slot whose sector 0 holds an older commit
// than the other slot's, but with a sector of a commit past the next one,
// was not left so by a crash: it is refused, not read as an older slot.
func TestLaterSectorRefused(t *testing.T) {
	b := longFile(t, 1500)
	_, d := digits(t, '6', 1500)
	copy(b[sectorSize:2*sectorSize], record(nil, 6, slotSize, d, 0)[sectorSize:])
	if got, err := decoded(b); err == nil || !strings.Contains(err.Error(), "damaged: slot 0: its sectors are of more than one commit (sector 0: 2, the newest: 6)") {
		t.Fatalf("slot 0 holds commit 2 with a sector of commit 6: %q, %v; want refused", got, err)
	}
}

// mixes writes next over slot 0 of b as a crash may leave it, each of
// its sectors new or as it was, for every mix of the two; it calls check
// with each mix ("0110": 1 is next's) and says whether all of next is on
// disk. It leaves b as it was.
func mixes(b, next []byte, check func(mix string, allNew bool)) {
	old := append([]byte(nil), b[:len(next)]...)
	sectors := len(next) / sectorSize
	for mask := 0; mask < 1<<sectors; mask++ {
		mix := make([]byte, sectors)
		for k := range mix {
			from := old
			mix[k] = '0'
			if mask&(1<<k) != 0 {
				from, mix[k] = next, '1'
			}
			copy(b[k*sectorSize:(k+1)*sectorSize], from[k*sectorSize:])
		}
		check(string(mix), mask == 1<<sectors-1)
	}
	copy(b, old)
}

// recordV1 encodes a format version 1 record (format_v1.go).
func recordV1(seq uint64, value string) []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, slotSize)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	b = append(b, value...)
	b = binary.BigEndian.AppendUint64(b, seq)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// fileV1 is a version 1 file of slots holding records a and b.
func fileV1(a, b []byte) []byte {
	f := make([]byte, 2*slotSize)
	copy(f, a)
	copy(f[slotSize:], b)
	return f
}

// TestVersion1: a file in format version 1 is read, and rewritten in
// version 2 at once; the case version 1 cannot tell (a newer record
// longer than a sector whose end is of another commit: torn, or a bit
// flipped there) is refused, saying so.
func TestVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter")
	os.WriteFile(path, fileV1(recordV1(6, "41"), recordV1(7, "42")), 0o644)
	f, c := openStarted(t, path)
	if v, _ := c.snapshot(); v.String() != "42" {
		t.Fatalf("a version 1 file reads %v, want 42", v)
	}
	b, _ := os.ReadFile(path)
	if got := binary.BigEndian.Uint32(b[8:]); got != version || f.seq != 8 {
		t.Fatalf("after Open the file is in version %d, its last commit %d; want version %d, commit 8", got, f.seq, version)
	}
	if err := f.Sync(c.add(1)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if v := reopen(t, path); v.String() != "43" {
		t.Fatalf("then it reads %v, want 43", v)
	}

	long := strings.Repeat("9", 1000)
	torn := recordV1(7, long)
	torn[len(torn)-12+7] ^= 1 // the end's seq: 6, or a flipped bit
	os.WriteFile(path, fileV1(recordV1(6, long), torn), 0o644)
	if _, _, err := Open(path, false, quiet); err == nil || !strings.Contains(err.Error(), "format version 1 cannot tell") {
		t.Fatalf("a version 1 file whose newer record looks torn: %v; want refused, saying version 1 cannot tell", err)
	}
}
