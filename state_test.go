//go:build linux

package main

// The durable counter (-state) as a user meets it: a server killed with
// SIGKILL at any moment while clients pipeline adds, restarted on the same
// file, never hands out a value twice. Linux: the servers are child
// processes watched through /proc, as in abuse_test.go.

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchadd/internal/testwait"
	"fetchadd/server"
)

// crashCycles is how many times TestCrashNeverRepeats kills each mode's
// server; FETCHADD_CRASH_CYCLES sets it (NOTES.md's run: 100).
func crashCycles() int {
	if n, err := strconv.Atoi(os.Getenv("FETCHADD_CRASH_CYCLES")); err == nil && n > 0 {
		return n
	}
	return 20
}

// TestCrashNeverRepeats: in every mode, a server with -state is killed
// with SIGKILL at a random moment while four clients pipeline lines of 1,
// and restarted on the same file, many times. After each restart the
// counter is above every value a client received, and no value is
// received twice across all the cycles.
func TestCrashNeverRepeats(t *testing.T) {
	forEachMode(t, server.Modes, func(t *testing.T, mode string) {
		path := filepath.Join(t.TempDir(), "counter")
		r := rand.New(rand.NewSource(int64(len(mode))))
		seen := map[int64]bool{}
		var highest int64 = -1
		for cycle := 0; cycle < crashCycles(); cycle++ {
			srv := startChild(t, nil, "-mode", mode, "-state", path)
			// The counter now is above every value handed out before.
			probe := srv.dial()
			var now int64
			if _, err := fmt.Fprintf(probe, "0\n"); err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Fscanf(bufio.NewReader(probe), "  --> %d\r\n", &now); err != nil {
				t.Fatalf("cycle %d: the probe: %v", cycle, err)
			}
			probe.Close()
			if now <= highest {
				t.Fatalf("cycle %d: after the restart the counter is %d; a client had %d", cycle, now, highest)
			}
			// Clients pipeline 32 lines of 1 at a time until the kill,
			// which comes once they have had a random number of replies.
			killAt := r.Intn(3000)
			var mu sync.Mutex
			var got []int64
			killed := make(chan struct{})
			var wg sync.WaitGroup
			for c := 0; c < 4; c++ {
				conn := srv.dial()
				wg.Add(1)
				go func() {
					defer wg.Done()
					in := bufio.NewReader(conn)
					for {
						if _, err := conn.Write([]byte(strings.Repeat("1\n", 32))); err != nil {
							return
						}
						for i := 0; i < 32; i++ {
							var v int64
							if _, err := fmt.Fscanf(in, "  --> %d\r\n", &v); err != nil {
								return // the kill
							}
							mu.Lock()
							got = append(got, v)
							if len(got) == killAt {
								close(killed)
							}
							mu.Unlock()
						}
					}
				}()
			}
			if killAt > 0 {
				select {
				case <-killed:
				case <-time.After(timeout):
					t.Fatalf("cycle %d: %d replies before the kill, want %d", cycle, len(got), killAt)
				}
			}
			srv.cmd.Process.Kill()
			testwait.Group(t, &wg, "the clients")
			srv.wait()
			for _, v := range got {
				if seen[v] {
					t.Fatalf("cycle %d: value %d handed out twice", cycle, v)
				}
				seen[v] = true
				highest = max(highest, v)
			}
		}
		t.Logf("%s: %d kill -9 cycles, %d values, all different; highest %d", mode, crashCycles(), len(seen), highest)
	})
}
