package state

import (
	"bytes"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"fetchadd/fetchadd"
	"fetchadd/internal/testwait"

	"golang.org/x/sys/unix"
)

var quiet = log.New(io.Discard, "", 0)

// counter is a stand-in for the server's: a value and a version.
type counter struct {
	mu      sync.Mutex
	v       fetchadd.Number
	version uint64
}

func (c *counter) add(d int64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = c.v.Add(fetchadd.Int(d))
	c.version++
	return c.version
}

func (c *counter) snapshot() (fetchadd.Number, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v, c.version
}

func (c *counter) reset(v fetchadd.Number) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = v
	return c.version
}

// openStarted opens path and starts its committer on a counter that holds
// what the file held.
func openStarted(t *testing.T, path string) (*File, *counter) {
	t.Helper()
	f, v, err := Open(path, false, quiet)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{v: v}
	f.Start(c.snapshot, c.reset)
	return f, c
}

// reopen reads back what path holds.
func reopen(t *testing.T, path string) fetchadd.Number {
	t.Helper()
	f, v, err := Open(path, false, quiet)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return v
}

// peek reads what path holds while a File has it open (and locked).
func peek(t *testing.T, path string) fetchadd.Number {
	t.Helper()
	fd, err := open(path, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	v, _, err := (&File{path: path, fd: fd, logger: quiet}).load()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSavesAndReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter")
	f, c := openStarted(t, path)
	for i := 0; i < 5; i++ {
		if err := f.Sync(c.add(10)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if v := reopen(t, path); v.String() != "50" {
		t.Fatalf("read back %v, want 50", v)
	}
	// A counter of any size: past 4,300 digits.
	f, c = openStarted(t, path)
	big, _ := fetchadd.ParseDecimal([]byte("-" + strings.Repeat("9", 4400)))
	c.mu.Lock()
	c.v, c.version = c.v.Add(big), c.version+1
	want := c.v.String()
	c.mu.Unlock()
	if err := f.Sync(c.version); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if v := reopen(t, path); v.String() != want {
		t.Fatalf("read back %.20s... (%d bytes), want %.20s... (%d)", v, len(v.String()), want, len(want))
	}
}

// TestGroupCommit: adds that wait while a commit is on its way are all
// saved by the next one: two commits for eleven waiters.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter")
	f, c := openStarted(t, path)
	real := datasync
	defer func() { datasync = real }()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo() // a test that fails holds no commit up
	first := true
	datasync = func(fd int) error {
		if first { // hold the first commit until the others wait
			first = false
			entered <- struct{}{}
			<-release
		}
		return real(fd)
	}
	done := make(chan error, 11)
	go func() { done <- f.Sync(c.add(1)) }()
	testwait.Recv(t, entered, "the first commit's fdatasync") // the first commit is in its fdatasync
	for i := 0; i < 10; i++ {
		v := c.add(1)
		go func() { done <- f.Sync(v) }()
	}
	// All ten must be waiting before the first commit ends: wait until
	// the committer has been asked for the last version.
	for i := 0; ; i++ {
		f.mu.Lock()
		waiting := f.waiting
		f.mu.Unlock()
		if waiting == 10 {
			break
		}
		if i == 1e7 {
			t.Fatalf("%d adds wait for the commit under way, want 10", waiting)
		}
		runtime.Gosched()
	}
	letGo()
	for i := 0; i < 11; i++ {
		if err := testwait.Recv(t, done, "the adds' commits"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.Close(); n != 2 {
		t.Fatalf("%d commits for 11 adds that waited together, want 2", n)
	}
}

// TestFailedCommit: a commit that cannot be written or synced fails the
// adds that waited for it, leaves the last good value on disk, and does
// not stop the next commit.
func TestFailedCommit(t *testing.T) {
	for _, fault := range []string{"pwrite ENOSPC", "fdatasync EIO"} {
		t.Run(fault, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "counter")
			realWrite, realSync := pwrite, datasync
			defer func() { pwrite, datasync = realWrite, realSync }()
			f, c := openStarted(t, path)
			if err := f.Sync(c.add(7)); err != nil {
				t.Fatal(err)
			}
			var want error
			if fault == "pwrite ENOSPC" {
				want = unix.ENOSPC
				pwrite = func(fd int, p []byte, off int64) (int, error) {
					// Its first half reached the file, in whole sectors, as
					// writes reach a disk (none of a one-sector record).
					half := len(p) / 2 / sectorSize * sectorSize
					realWrite(fd, p[:half], off)
					return half, wrap("pwrite", unix.ENOSPC)
				}
			} else {
				want = unix.EIO
				datasync = func(int) error { return wrap("fdatasync", unix.EIO) }
			}
			if err := f.Sync(c.add(5)); !errors.Is(err, want) {
				t.Fatalf("Sync after %s: %v", fault, err)
			}
			// The file opens, with the last acknowledged value or, if the
			// failed commit's bytes reached it, that one: never less.
			if v := peek(t, path); v.String() != "7" && v.String() != "12" {
				t.Fatalf("after the failed commit the file holds %v, want 7 (or 12)", v)
			}
			pwrite, datasync = realWrite, realSync
			if err := f.Sync(c.add(1)); err != nil {
				t.Fatalf("the next commit: %v", err)
			}
			f.Close()
			if v := reopen(t, path); v.String() != "13" {
				t.Fatalf("then the file holds %v, want 13", v)
			}
		})
	}
}

// TestRefused: a file that is damaged, cut short, empty or not a state
// file is refused with an error naming it and saying what is wrong, and
// left exactly as it was.
func TestRefused(t *testing.T) {
	good := func(t *testing.T) []byte {
		path := filepath.Join(t.TempDir(), "counter")
		f, c := openStarted(t, path)
		for i := 0; i < 3; i++ {
			f.Sync(c.add(100))
		}
		f.Close()
		b, _ := os.ReadFile(path)
		return b
	}
	flip := func(at int) func([]byte) []byte {
		return func(b []byte) []byte { b[at] ^= 0x10; return b }
	}
	cases := []struct {
		name   string
		damage func([]byte) []byte
		says   string
	}{
		// The newer slot is slot 0: commits 0 and 1 made the file, 2 to 4
		// followed. (TestBitFlips flips every bit of a long record.)
		{"a byte flipped in the newer slot's value", flip(firstHead), "damaged: slot 0: sector 0 fails its checksum"},
		{"a byte flipped in a sector's checksum", flip(sectorSize - 1), "damaged: slot 0: sector 0 fails its checksum"},
		{"the older slot's sector 0 flipped", flip(slotSize + 16 + 7), "damaged: slot 1: sector 0 fails its checksum"},
		{"a tear that is not of the next commit", func(b []byte) []byte {
			// Slot 1 holds commit 3: a tear of commit 7 there is not one
			// a crash in the middle of commit 5 (the next) can leave.
			long := record(nil, 7, slotSize, bytes.Repeat([]byte("7"), 1000), 0)
			copy(b[slotSize:], long[:sectorSize])
			return b
		}, "damaged: slot 1: its sectors are of more than one commit"},
		{"cut short", func(b []byte) []byte { return b[:slotSize+100] }, "cut short or damaged"},
		{"longer", func(b []byte) []byte { return append(b, '\n') }, "cut short or damaged"},
		{"empty", func([]byte) []byte { return nil }, "not a fetchadd state file"},
		{"foreign", func([]byte) []byte { return []byte("counter=300\n") }, "not a fetchadd state file"},
		{"foreign, long", func([]byte) []byte { return bytes.Repeat([]byte("x"), 2*slotSize) }, "not a fetchadd state file"},
		{"both slots gone", func(b []byte) []byte { clear(b[8:]); return b }, "damaged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "counter")
			b := tc.damage(good(t))
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(path)
			_, _, err := Open(path, false, quiet)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Open: %v; want an error naming %s and saying %q", err, path, tc.says)
			}
			after, _ := os.Stat(path)
			if now, _ := os.ReadFile(path); !bytes.Equal(now, b) || !after.ModTime().Equal(before.ModTime()) {
				t.Fatalf("the refused file was changed")
			}
			// -state-reset starts over.
			f, v, err := Open(path, true, quiet)
			if err != nil || v.String() != "0" {
				t.Fatalf("reset: %v, %v", v, err)
			}
			f.Close()
		})
	}
}

// TestReadOnly: a file the server may read but not write gives its value,
// and every commit fails, saying so.
func TestReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write any file: the read-only file is tested on a read-only tmpfs in the server's tests")
	}
	path := filepath.Join(t.TempDir(), "counter")
	f, c := openStarted(t, path)
	f.Sync(c.add(9))
	f.Close()
	os.Chmod(path, 0o444)
	f, c = openStarted(t, path)
	defer f.Close()
	if err := f.Sync(c.add(1)); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Sync on a read-only file: %v", err)
	}
}
