package server

// The durable counter (-state) in every mode (the full and read-only
// disks: state_linux_test.go).

import (
	"bufio"
	"fmt"
	"net"
	"os"
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

// TestStateReplaced: in every mode, once the state file is removed, its
// directory removed, or a copy of it moved over it while the server runs,
// every add is refused with a line saying so, the log says what happened,
// and adds stay refused; a server started again on what is at the path
// then (the copy) hands out no value twice.
func TestStateReplaced(t *testing.T) {
	cases := map[string]func(path string) error{
		"rm": os.Remove,
		"rm -rf of its directory": func(path string) error {
			return os.RemoveAll(filepath.Dir(path))
		},
		"mv of a copy over it": func(path string) error {
			b, err := os.ReadFile(path)
			if err == nil {
				err = os.WriteFile(path+".copy", b, 0o644)
			}
			if err == nil {
				err = os.Rename(path+".copy", path)
			}
			return err
		},
	}
	const refused = "!!!! not saved: the state file was removed or replaced while the server ran (the add may still count)\r\n"
	for _, mode := range Modes {
		for name, do := range cases {
			t.Run(mode+"/"+name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "dir", "counter")
				os.Mkdir(filepath.Dir(path), 0o755)
				srv, logs, stopFirst := serve(t, Config{Mode: mode, Loops: 1, StatePath: path})
				stop := sync.OnceFunc(stopFirst)
				defer stop()
				if vals, err := pipelineOnes(srv.Addr().String(), 5); err != nil || vals[4] != 4 {
					t.Fatal(vals, err)
				}
				if err := do(path); err != nil {
					t.Fatal(err)
				}
				c := dial(t, srv)
				r := bufio.NewReader(c)
				for i := 0; i < 2; i++ {
					if got := roundTrip(t, c, r, "1\n"); got != refused {
						t.Fatalf("add %d after %s: %q; want %q", i+1, name, got, refused)
					}
				}
				if !strings.Contains(logs.String(), "state: "+path+": the state file was removed or replaced while the server ran") {
					t.Fatalf("the log does not say what happened:\n%s", logs.String())
				}
				if name != "mv of a copy over it" {
					return
				}
				stop()
				again, _, stopAgain := serve(t, Config{Mode: mode, StatePath: path})
				defer stopAgain()
				if vals, err := pipelineOnes(again.Addr().String(), 1); err != nil || vals[0] != 5 {
					t.Fatalf("a server started on the copy: %v, %v; want 5, the first value not handed out", vals, err)
				}
			})
		}
	}
}
