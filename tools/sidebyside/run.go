package main

// How the servers run: each under strace -f (or fetchadd's -trace), one
// session of the handout's inputs, then a second client and the stop.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// run traces the four servers in turn.
func run(cfg config) []column {
	cols := []column{
		colC:      {Title: "C: lecture/c/server.c", Key: "C"},
		colPython: {Title: "Python: lecture/python/server.py", Key: "P"},
		colTwin:   {Title: "Go: lecture/go/server", Key: "G"},
		colGo:     {Title: "Go: fetchadd serve", Key: "F"},
	}
	var err error
	if cfg.Strace == "" {
		cols[colC].Note, cols[colPython].Note, cols[colTwin].Note = "(no strace)", "(no strace)", "(no strace)"
		cols[colGo].Title = "Go: fetchadd serve -trace"
		cols[colGo].Calls, cols[colGo].Replies, err = goTrace(cfg)
		if err != nil {
			cols[colGo].Note = "(" + err.Error() + ")"
		}
		return cols
	}
	python, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	servers := [][]string{
		colC:      {cfg.C, "127.0.0.1", "0"},
		colPython: {strings.TrimSpace(string(python)), cfg.Python, "127.0.0.1", "0"},
		colTwin:   {cfg.Twin, "127.0.0.1", "0"},
		colGo:     {cfg.Go, "serve", "-addr", "127.0.0.1:0"},
	}
	if err != nil {
		servers[colPython] = nil
		cols[colPython].Note = "(no python3)"
	}
	for i, argv := range servers {
		if argv == nil {
			continue
		}
		cols[i].Calls, cols[i].Replies, err = straced(cfg, argv)
		if err != nil {
			cols[i].Note = "(" + err.Error() + ")"
		}
	}
	return cols
}

// straced runs the server argv under strace, sends it the input, stops
// it, and returns its calls and its replies.
func straced(cfg config, argv []string) ([]string, []byte, error) {
	dir, err := os.MkdirTemp("", "sidebyside")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "strace.txt")
	args := append([]string{"-f", "-qq", "-yy", "-s", "32", "-e", "trace=%network,read,write,close,poll,ppoll", "-e", "signal=none", "-o", out}, argv...)
	cmd := exec.Command(cfg.Strace, args...)
	// TZ="": Go's log clock needs no zoneinfo file.
	cmd.Env = append(os.Environ(), "TZ=")
	replies, err := serveSession(cmd, cfg.Input, func() error {
		pid, err := childOf(cmd.Process.Pid)
		if err == nil {
			err = syscall.Kill(pid, syscall.SIGTERM) // the server: strace follows it out
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, nil, err
	}
	return labCalls(strings.Split(string(raw), "\n"), true), replies, nil
}

// goTrace runs fetchadd serve -trace, where there is no strace.
func goTrace(cfg config) ([]string, []byte, error) {
	cmd := exec.Command(cfg.Go, "serve", "-addr", "127.0.0.1:0", "-trace")
	var trace bytes.Buffer
	replies, err := serveSession(cmd, cfg.Input, func() error {
		return cmd.Process.Signal(syscall.SIGTERM)
	}, &trace)
	if err != nil {
		return nil, nil, err
	}
	return labCalls(strings.Split(trace.String(), "\n"), false), replies, nil
}

var listening = regexp.MustCompile(`listening on (\S+):`)

// serveSession starts cmd, waits until it says where it listens, sends
// it the input as one client, calls stop, and waits for cmd to end. The
// server's stderr, past the line that says where, goes to logs.
func serveSession(cmd *exec.Cmd, input []byte, stop func() error, logs ...io.Writer) ([]byte, error) {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	addrc := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stderr)
		found := false
		for {
			line, err := r.ReadString('\n')
			if m := listening.FindStringSubmatch(line); m != nil && !found {
				addrc <- m[1]
				found = true
			}
			for _, w := range logs {
				w.Write([]byte(line))
			}
			if err != nil {
				break
			}
		}
		if !found {
			close(addrc)
		}
		done <- cmd.Wait()
	}()
	kill := func() {
		cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(timeout):
		}
	}
	var addr string
	select {
	case a, ok := <-addrc:
		if !ok {
			return nil, fmt.Errorf("%s ended before listening: %v", filepath.Base(cmd.Args[0]), <-done)
		}
		addr = a
	case <-time.After(timeout):
		kill()
		return nil, fmt.Errorf("%s did not say where it listens", filepath.Base(cmd.Args[0]))
	}
	replies, err := session(addr, input)
	if err == nil {
		err = nextClient(addr)
	}
	if err == nil {
		err = stop()
	}
	if err != nil {
		kill()
		return nil, err
	}
	select {
	case <-done: // killed by SIGTERM, or stopped by it: either is fine
	case <-time.After(timeout):
		kill()
		return nil, errors.New("the server did not stop")
	}
	return replies, nil
}

// session sends each line of input to addr and waits for its reply, as a
// student typing into nc would; then shutdown(SHUT_WR), and the server's
// close. The server has closed the connection when session returns.
func session(addr string, input []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	var replies []byte
	for _, line := range bytes.SplitAfter(input, []byte("\n")) {
		if len(line) == 0 || line[len(line)-1] != '\n' {
			if _, err := c.Write(line); err != nil {
				return nil, err
			}
			break // a last line without LF: answered at the end
		}
		if _, err := c.Write(line); err != nil {
			return nil, err
		}
		reply, err := r.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("reply to %q: %w", line, err)
		}
		replies = append(replies, reply...)
	}
	c.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(r) // to the server's close
	return append(replies, rest...), err
}

// nextClient is served by the server: a line, and its reply. An
// iterative server takes it only once it has closed the first client's
// connection, so strace has written that close whole when the server is
// stopped (a signal that kills a process of several threads, as Go's,
// while strace has yet to write a call's end leaves "close(4) = ?").
// The story's columns end at that close: this client is not in them.
func nextClient(addr string) error {
	_, err := session(addr, []byte("0\n"))
	return err
}

// childOf finds the process that strace (pid) started.
func childOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			return strconv.Atoi(f[0])
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return strconv.Atoi(e.Name())
		}
	}
	return 0, fmt.Errorf("no child of strace (pid %d)", pid)
}
