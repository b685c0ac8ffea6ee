package server

// The durable counter (-state) in every mode (the full and read-only
// disks: state_linux_test.go).

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchadd/internal/testwait"
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
			testwait.Group(t, &wg, "the clients")
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
