package server

// The state file on a disk that is full or read-only: a small tmpfs the
// test mounts (Linux, as root).

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

var netipLoopback = netip.MustParseAddrPort("127.0.0.1:0")

// tmpfs mounts a tmpfs of size bytes in a new directory, for the test.
func tmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs here (it needs Linux, root and CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// TestStateDiskFull: a full disk refuses the file's creation, with an
// error that names it; a file that exists goes on saving every add when
// the disk fills up, since a commit writes over the file's own bytes.
func TestStateDiskFull(t *testing.T) {
	dir := tmpfs(t, 4096) // one page: less than a state file
	path := filepath.Join(dir, "counter")
	_, err := Listen(Config{Addr: netipLoopback, StatePath: path})
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Listen on a full disk: %v; want ENOSPC, naming %s", err, path)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind on the full disk: %v; want nothing", entries)
	}

	dir = tmpfs(t, 8*4096)
	path = filepath.Join(dir, "counter")
	srv, _, stop := serve(t, Config{Mode: Event, StatePath: path})
	defer stop()
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer fill.Close()
	for { // fill the disk
		if _, err := fill.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	vals, err := pipelineOnes(srv.Addr().String(), 100)
	if err != nil || vals[99] != 99 {
		t.Fatalf("on a full disk: %v, %v", vals, err)
	}
}

// readOnlyState makes a state file holding 5 on a tmpfs mounted
// read-only, for the test: every commit fails with EROFS.
func readOnlyState(t *testing.T) string {
	t.Helper()
	dir := tmpfs(t, 8*4096)
	path := filepath.Join(dir, "counter")
	srv, _, stop := serve(t, Config{Mode: Iterative, StatePath: path})
	if vals, err := pipelineOnes(srv.Addr().String(), 5); err != nil || vals[4] != 4 {
		t.Fatal(vals, err)
	}
	stop()
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot remount the tmpfs read-only: %v %s", err, out)
	}
	return path
}

// refusedReadOnly is the reply to an add on a read-only state file.
const refusedReadOnly = "!!!! not saved: read-only file system (the add may still count)\r\n"

// TestStateReadOnly: a state file on a read-only file system gives its
// value; every add is refused with a line saying why, and the rest is
// served.
func TestStateReadOnly(t *testing.T) {
	path := readOnlyState(t)
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			srv, logs, stop := serve(t, Config{Mode: mode, Loops: 1, StatePath: path})
			defer stop()
			c := dial(t, srv)
			r := bufio.NewReader(c)
			if got := roundTrip(t, c, r, "1\n"); got != refusedReadOnly {
				t.Fatalf("an add on a read-only file: %q", got)
			}
			if got := roundTrip(t, c, r, "x\n"); got != "!!!!\r\n" {
				t.Fatalf("a line that is not a number: %q", got)
			}
			if !strings.Contains(logs.String(), "every add will be refused") {
				t.Fatalf("the log does not say the file is read-only:\n%s", logs.String())
			}
		})
	}
}
