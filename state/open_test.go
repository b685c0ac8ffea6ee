package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fetchadd/internal/testwait"

	"golang.org/x/sys/unix"
)

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, e := range entries {
		list = append(list, e.Name())
	}
	return list
}

// TestLocked: a second server on the same file is refused, whatever name
// it opens the file by (a symbolic link, a hard link), and whether it
// would reset it or not; the first goes on saving.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "counter")
	f, _ := openStarted(t, path)
	f.Close()
	f, c := openStarted(t, path) // a file that exists, as after a restart
	defer f.Close()
	if err := os.Symlink(path, filepath.Join(dir, "symlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(path, filepath.Join(dir, "hardlink")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"counter", "symlink", "hardlink"} {
		for _, reset := range []bool{false, true} {
			if _, _, err := Open(filepath.Join(dir, name), reset, quiet); err == nil || !strings.Contains(err.Error(), "in use by another server") {
				t.Fatalf("a second Open by the name %s (reset %v): %v", name, reset, err)
			}
		}
	}
	if err := f.Sync(c.add(3)); err != nil {
		t.Fatal(err)
	}
	if v := peek(t, path); v.String() != "3" {
		t.Fatalf("the first File saved %v, want 3", v)
	}
}

// TestNoLockFile: the server leaves nothing beside its file, whether it
// creates it, opens it or refuses what is at the path (a FIFO, as
// /dev/zero would be).
func TestNoLockFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "counter")
	for range 2 { // created, then opened
		f, _ := openStarted(t, path)
		if got := names(t, dir); !slices.Equal(got, []string{"counter"}) {
			t.Fatalf("the directory holds %v, want only the file", got)
		}
		f.Close()
	}
	dir = t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, reset := range []bool{false, true} {
		if _, _, err := Open(fifo, reset, quiet); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Open of a FIFO (reset %v): %v", reset, err)
		}
		if got := names(t, dir); !slices.Equal(got, []string{"fifo"}) {
			t.Fatalf("after a FIFO was refused the directory holds %v", got)
		}
	}
}

// TestDanglingSymlink: a symbolic link to nothing is refused, saying so,
// and nothing is made at its target.
func TestDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	for _, reset := range []bool{false, true} {
		if _, _, err := Open(link, reset, quiet); err == nil || !strings.Contains(err.Error(), "a symbolic link to "+dir+"/target, which does not exist") {
			t.Fatalf("Open of a dangling symbolic link (reset %v): %v", reset, err)
		}
		if got := names(t, dir); !slices.Equal(got, []string{"link"}) {
			t.Fatalf("after the refusal the directory holds %v, want only the link", got)
		}
	}
}

// TestResetThroughLinks: a reset through a symbolic link writes the
// file it points to (the link stays a link); one of a file with other
// names (hard links) is refused, since they would go on naming the old
// file.
func TestResetThroughLinks(t *testing.T) {
	dir := t.TempDir()
	path, link := filepath.Join(dir, "counter"), filepath.Join(dir, "link")
	f, c := openStarted(t, path)
	f.Sync(c.add(5))
	f.Close()
	os.Symlink("counter", link)
	f, v, err := Open(link, true, quiet)
	if err != nil || v.String() != "0" {
		t.Fatalf("reset through a symbolic link: %v, %v", v, err)
	}
	f.Close()
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("after the reset the link is %v, %v; want it a symbolic link still", st, err)
	}
	if v := reopen(t, path); v.String() != "0" {
		t.Fatalf("after the reset through the link the file holds %v, want 0", v)
	}
	os.Link(path, filepath.Join(dir, "other"))
	if _, _, err := Open(path, true, quiet); err == nil || !strings.Contains(err.Error(), "hard links") {
		t.Fatalf("reset of a file with two names: %v; want refused", err)
	}
}

// TestCreateSyncs: a new file, and a reset one, is synced under its
// temporary name, then renamed, then its directory is synced, each once;
// only then is the file's name on disk.
func TestCreateSyncs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "counter")
	realSync, realDir := datasync, syncDir
	defer func() { datasync, syncDir = realSync, realDir }()
	var calls []string
	datasync = func(fd int) error {
		calls = append(calls, fmt.Sprintf("datasync %v", names(t, dir)))
		return realSync(fd)
	}
	syncDir = func(d string) error {
		calls = append(calls, fmt.Sprintf("syncDir %s %v", d, names(t, dir)))
		return realDir(d)
	}
	for _, reset := range []bool{false, true} {
		calls = nil
		f, _, err := Open(path, reset, quiet)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if len(calls) != 2 || !strings.HasPrefix(calls[0], "datasync [") || !strings.Contains(calls[0], "counter.tmp.") ||
			calls[1] != fmt.Sprintf("syncDir %s [counter]", dir) {
			t.Fatalf("creating the file (reset %v): %q; want a datasync of the temporary file, then one sync of the directory holding the file alone", reset, calls)
		}
	}
}

// TestRetryWritesFailedSlot: a commit that fails (in its pwrite or its
// fdatasync) is tried again in the slot it was written to, never the
// slot that holds the last good commit, which may be all a crash leaves.
func TestRetryWritesFailedSlot(t *testing.T) {
	for _, fault := range []string{"pwrite", "fdatasync"} {
		t.Run(fault, func(t *testing.T) {
			realWrite, realSync := pwrite, datasync
			defer func() { pwrite, datasync = realWrite, realSync }()
			f, c := openStarted(t, filepath.Join(t.TempDir(), "counter"))
			defer f.Close()
			var offsets []int64
			failing := false
			pwrite = func(fd int, p []byte, off int64) (int, error) {
				offsets = append(offsets, off)
				if failing && fault == "pwrite" {
					return 0, wrap("pwrite", unix.EIO)
				}
				return realWrite(fd, p, off)
			}
			datasync = func(fd int) error {
				if failing && fault == "fdatasync" {
					return wrap("fdatasync", unix.EIO)
				}
				return realSync(fd)
			}
			f.Sync(c.add(1))
			failing = true
			if err := f.Sync(c.add(1)); !errors.Is(err, unix.EIO) {
				t.Fatalf("the failing commit: %v", err)
			}
			failing = false
			if err := f.Sync(c.add(1)); err != nil {
				t.Fatal(err)
			}
			if len(offsets) != 3 || offsets[1] == offsets[0] || offsets[2] != offsets[1] {
				t.Fatalf("commits written at %v: a good one, one that failed, its retry; want the retry where the failed one went, not where the good one is", offsets)
			}
		})
	}
}

// TestRemovedOrReplaced: once the file the server opened is no longer
// the one at its path (removed; its directory removed; another file
// moved over it; moved away), every commit fails with ErrReplaced, naming
// the file, until the file is opened again: even if it is moved back.
func TestRemovedOrReplaced(t *testing.T) {
	away := func(path string) string { return filepath.Join(filepath.Dir(filepath.Dir(path)), "away") }
	cases := []struct {
		name     string
		do, undo func(path string) error
	}{
		{"rm", os.Remove, nil},
		{"rm -rf of its directory", func(path string) error { return os.RemoveAll(filepath.Dir(path)) }, nil},
		{"mv of a copy over it", func(path string) error {
			b, err := os.ReadFile(path)
			if err == nil {
				err = os.WriteFile(path+".copy", b, 0o644)
			}
			if err == nil {
				err = os.Rename(path+".copy", path)
			}
			return err
		}, nil},
		{"mv away and back", func(path string) error { return os.Rename(path, away(path)) },
			func(path string) error { return os.Rename(away(path), path) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dir", "counter")
			os.Mkdir(filepath.Dir(path), 0o755)
			f, c := openStarted(t, path)
			defer f.Close()
			if err := f.Sync(c.add(1)); err != nil {
				t.Fatal(err)
			}
			if err := tc.do(path); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				err := f.Sync(c.add(1))
				if !errors.Is(err, ErrReplaced) || !strings.Contains(err.Error(), path) {
					t.Fatalf("commit %d after %s: %v; want ErrReplaced, naming %s", i+1, tc.name, err, path)
				}
				if i == 0 && tc.undo != nil {
					if err := tc.undo(path); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// TestFIFONotWaited: the state file's path opened read-only (as a file
// the process may not write is) does not wait when it names a FIFO with
// no writer: the server would hang at start, deaf to SIGTERM. Open then
// refuses it as not a regular file.
func TestFIFONotWaited(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() {
		fd, err := openState(path, unix.O_RDONLY)
		if err == nil {
			unix.Close(fd)
		}
		opened <- err
	}()
	released := false
	t.Cleanup(func() { // a writer ends an open that waits for one
		if !released {
			if fd, err := unix.Open(path, unix.O_RDWR, 0); err == nil {
				unix.Close(fd)
			}
		}
	})
	if err := testwait.Recv(t, opened, "the FIFO's open"); err != nil {
		t.Fatal(err)
	}
	released = true
	if _, _, err := Open(path, false, quiet); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open of a FIFO: %v, want refused as not a regular file", err)
	}
}

// TestWorkingDirectoryMoved: a file opened by a relative path is the one
// at that path from where the server started. When that working
// directory is moved away and a new one made in its place (a new release
// deployed), the server's file is no longer at its path, though the
// relative path, read from where the directory went, still names it: a
// server started there would make a new file, and hand the values out
// again.
func TestWorkingDirectoryMoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil { // no test of the package runs in parallel
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	f, c := openStarted(t, "counter")
	defer f.Close()
	if err := f.Sync(c.add(1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(c.add(1)); !errors.Is(err, ErrReplaced) {
		t.Fatalf("a commit after the working directory moved: %v; want ErrReplaced", err)
	}
}
