package server

// The durable counter (-state) in every mode, and on a disk that is full
// or read-only: a small tmpfs the test mounts (Linux, as root).

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pipelineOnes sends n lines of 1 on a new connection and returns the
// values of the replies.
func pipelineOnes(addr string, n int) ([]int64, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(strings.Repeat("1\n", n))); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	vals := make([]int64, n)
	for i := range vals {
		if _, err := fmt.Fscanf(r, "  --> %d\r\n", &vals[i]); err != nil {
			return nil, fmt.Errorf("reply %d: %w", i, err)
		}
	}
	return vals, nil
}

// roundTrip sends a line on c and returns the reply line.
func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) string {
	t.Helper()
	if _, err := c.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	reply, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// TestStateEveryMode: with a state file, every mode hands out each value
// once, and a server started again on the file goes on from where the
// last one stopped.
func TestStateEveryMode(t *testing.T) {
	const clients, lines = 6, 500
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "counter")
			srv, _, stop := serve(t, Config{Mode: mode, Loops: 2, StatePath: path})
			var mu sync.Mutex
			seen := map[int64]bool{}
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					vals, err := pipelineOnes(srv.Addr().String(), lines)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for _, v := range vals {
						if seen[v] || v < 0 || v >= clients*lines {
							errs <- fmt.Errorf("value %d out of range or handed out twice", v)
							return
						}
						seen[v] = true
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			stop()
			again, _, stop := serve(t, Config{Mode: mode, StatePath: path})
			defer stop()
			if vals, err := pipelineOnes(again.Addr().String(), 1); err != nil || vals[0] != clients*lines {
				t.Fatalf("after a restart: %v, %v; want %d", vals, err, clients*lines)
			}
		})
	}
}

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
		t.Fatalf("left behind on the full disk: %v", entries)
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

// TestStateReadOnly: a state file on a read-only file system gives its
// value; every add is refused with a line saying why, and the rest is
// served.
func TestStateReadOnly(t *testing.T) {
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
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			srv, logs, stop := serve(t, Config{Mode: mode, Loops: 1, StatePath: path})
			defer stop()
			c, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(timeout))
			r := bufio.NewReader(c)
			if got := roundTrip(t, c, r, "1\n"); got != "!!!! not saved: read-only file system; try again later\r\n" {
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
