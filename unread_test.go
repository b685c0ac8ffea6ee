//go:build linux

package main

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchadd/server"
)

// TestNeverReadingClients: 3,000 clients each send 64 KiB of lines and
// never read the replies, a hundred times more than the kernel's socket
// buffers take of them (the counter has 101 digits, so each reply of a
// 2-byte line is 110 bytes). The server holds at most its -out-budget of
// them, stays under 100 MB, and answers another client meanwhile. The
// iterative mode serves one client at a time: the other client comes
// first, and the 3,000 wait in the backlog, costing it nothing. (Run
// without the race detector by make test, which measures memory.)
func TestNeverReadingClients(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 clients take some seconds a mode")
	}
	const conns = 3000
	big := "1" + strings.Repeat("0", 100)
	chunk := []byte(strings.Repeat("0\n", 8<<10))
	forEachMode(t, server.Modes, func(t *testing.T, mode string) {
		srv := startChild(t, nil, "-mode", mode, "-idle", "0", "-max-conns", "4000")
		good := srv.dial()
		goodR := bufio.NewReader(good)
		roundTrip(t, good, goodR, big+"\n", "  --> 0")
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for i := 0; i < conns; i++ {
			c := srv.dial()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sent := 0; sent < 64<<10; sent += len(chunk) {
					// A bound on a write that the server's flow control
					// may block: the bytes the kernel took are sent.
					c.SetWriteDeadline(time.Now().Add(timeout))
					if _, err := c.Write(chunk); err != nil {
						if !errors.Is(err, os.ErrDeadlineExceeded) {
							errs <- err
						}
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// Answered meanwhile, while the server works through what the
		// kernel holds of the 3,000's requests: how fast is a figure to
		// read, not to assert on.
		var slowest time.Duration
		for i := 0; i < 20; i++ {
			start := time.Now()
			good.SetDeadline(start.Add(6 * timeout))
			roundTrip(t, good, goodR, "0\n", "  --> "+big)
			slowest = max(slowest, time.Since(start))
		}
		peak := srv.status("VmHWM")
		t.Logf("%s: peak RSS %d kB with %d clients that never read; another client's slowest of 20 round trips %v", mode, peak, conns, slowest)
		if peak > 100<<10 && !raceEnabled {
			t.Errorf("peak RSS %d kB, want under 100 MB", peak)
		}
	})
}
