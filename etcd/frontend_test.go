package etcd_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// binary is fetchadd-etcd, built once for the tests by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fetchadd-etcd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fetchadd-etcd")
	build := exec.Command("go", append(append([]string{"build"}, raceFlags...), "-o", binary, "./cmd/fetchadd-etcd")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fetchadd-etcd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Test settings: a lease of 2 s and transactions of at most 1 s, so that
// failures are seen, and over, within seconds.
const (
	lease   = 2 * time.Second
	timeout = time.Second
)

// frontend is a fetchadd-etcd process of the test's.
type frontend struct {
	t      *testing.T
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    bytes.Buffer
	logged chan struct{} // a line was logged
}

var listening = regexp.MustCompile(`server listening on (\S+),`)

// startFrontend starts fetchadd-etcd on cluster c at a free port, and
// waits for it to listen; it is killed when the test ends.
func startFrontend(t *testing.T, c *cluster) *frontend {
	t.Helper()
	f := &frontend{t: t, exited: make(chan struct{}), logged: make(chan struct{}, 1)}
	f.cmd = exec.Command(binary, "-addr", "127.0.0.1:0", "-loops", "1", "-endpoints", c.endpoints(),
		"-lease", lease.String(), "-timeout", timeout.String(), "-idle", "0")
	f.cmd.SysProcAttr = childAttr()
	stderr, err := f.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.kill)
	addr := make(chan string, 1)
	go func() {
		defer close(f.exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			f.mu.Lock()
			f.log.WriteString(sc.Text() + "\n")
			f.mu.Unlock()
			select {
			case f.logged <- struct{}{}:
			default:
			}
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
		f.cmd.Wait()
	}()
	select {
	case f.addr = <-addr:
	case <-f.exited:
		t.Fatalf("fetchadd-etcd exited before it listened:\n%s", f.logs())
	case <-time.After(time.Minute):
		t.Fatalf("fetchadd-etcd not listening after a minute:\n%s", f.logs())
	}
	return f
}

// logs is what the front-end has logged so far.
func (f *frontend) logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

// waitLog waits until the front-end has logged a line with text in it
// (two minutes at most).
func (f *frontend) waitLog(text string) {
	f.t.Helper()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for !strings.Contains(f.logs(), text) {
		select {
		case <-f.logged:
		case <-f.exited:
			f.t.Fatalf("fetchadd-etcd %s exited before it logged %q:\n%s", f.addr, text, f.logs())
		case <-deadline.C:
			f.cmd.Process.Signal(syscall.SIGQUIT) // its goroutines' stacks, into its log
			select {
			case <-f.exited:
			case <-time.After(10 * time.Second):
			}
			f.t.Fatalf("fetchadd-etcd %s: no %q logged in two minutes; its log, and its stacks at SIGQUIT:\n%s", f.addr, text, f.logs())
		}
	}
}

// kill kills the front-end with SIGKILL, waits for it to be gone, and
// fails the test if the race detector reported a race in it.
func (f *frontend) kill() {
	f.cmd.Process.Kill()
	select {
	case <-f.exited:
	case <-time.After(time.Minute):
		f.t.Errorf("fetchadd-etcd %s: not gone a minute after SIGKILL", f.addr)
	}
	if logs := f.logs(); strings.Contains(logs, "DATA RACE") { // under go test -race
		f.t.Errorf("fetchadd-etcd %s: the race detector found a race:\n%s", f.addr, logs)
	}
}

// exchange sends lines to addr on a new connection, half-closes, and
// returns the replies, within a bound.
func exchange(t *testing.T, addr string, lines ...string) []string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading replies from %s: %v (got %q)", addr, err, b)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
}

// owner is the address of the front-end that owns the counter, as etcd
// says ("": none).
func owner(t *testing.T, cli *clientv3.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "/fetchadd/owner/", clientv3.WithFirstCreate()...)
	if err != nil {
		t.Fatalf("who owns the counter: %v", err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// counter is the counter as etcd holds it.
func counter(t *testing.T, cli *clientv3.Client) *big.Int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "/fetchadd/counter")
	if err != nil {
		t.Fatalf("reading the counter: %v", err)
	}
	v := new(big.Int)
	if len(resp.Kvs) > 0 {
		if _, ok := v.SetString(string(resp.Kvs[0].Value), 10); !ok {
			t.Fatalf("the counter in etcd is %q", resp.Kvs[0].Value)
		}
	}
	return v
}
