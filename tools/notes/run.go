package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// env is one run of a scenario: a directory of its own, the programs it
// started (all killed at the end), and the transcript being written.
//
// Every command a transcript shows ("$ ...") is run as shown, by sh -c,
// in the scenario's directory, where every file of the repository is a
// link to the repository's (bin/, lecture/, the sources for go build). Commands shown in other terminals run in the background;
// what they print is shown when the transcript says so. The environment
// has TZ= (Go's log clock reads no time-zone file) and LC_ALL=C.
type env struct {
	root, dir string
	deadline  time.Time
	procs     []*proc
	out       []string
	listings  map[string]string
}

func newEnv(root, bin string, listings map[string]string, timeout time.Duration) (*env, error) {
	dir, err := os.MkdirTemp("", "notes")
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	links := map[string]string{}
	for _, d := range entries {
		if d.Name() != ".git" {
			links[d.Name()] = filepath.Join(root, d.Name())
		}
	}
	if bin != "" { // the programs' directory given: bin/ whether the repository has one or not (a fresh clone)
		links["bin"] = bin
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			return nil, err
		}
	}
	return &env{root: root, dir: dir, deadline: time.Now().Add(timeout), listings: listings}, nil
}

// close kills what is still running, each process group the scenario
// started, and removes the directory.
func (e *env) close() {
	for _, p := range e.procs {
		select {
		case <-p.done:
		default:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		if p.master != nil {
			p.master.Close()
		}
	}
	os.RemoveAll(e.dir)
}

func (e *env) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TZ=") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG=") {
			env = append(env, kv)
		}
	}
	env = append(env, "TZ=", "LC_ALL=C", "PYTHONDONTWRITEBYTECODE=1")
	if dir := pythonDir(); dir != "" {
		for i, kv := range env {
			if strings.HasPrefix(kv, "PATH=") {
				env[i] = "PATH=" + dir + string(os.PathListSeparator) + kv[len("PATH="):]
			}
		}
	}
	return env
}

var pythonDirOnce struct {
	sync.Once
	dir string
}

// pythonDir is the directory of the python3 interpreter itself, put first
// in PATH: a version manager's shim (pyenv) would otherwise run under
// strace too, as more processes.
func pythonDir() string {
	pythonDirOnce.Do(func() {
		out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
		if err == nil && strings.TrimSpace(string(out)) != "" {
			pythonDirOnce.dir = filepath.Dir(strings.TrimSpace(string(out)))
		}
	})
	return pythonDirOnce.dir
}

// say writes a narration line: "# TEXT".
func (e *env) say(format string, args ...any) {
	e.out = append(e.out, "# "+fmt.Sprintf(format, args...))
}

// show writes what a program printed, as a terminal shows it.
func (e *env) show(text string) {
	text = screen(text)
	if text == "" {
		return
	}
	e.out = append(e.out, strings.Split(strings.TrimRight(text, "\n"), "\n")...)
}

// screen is text as a terminal shows it: a CR before a LF is not seen
// (a pseudo-terminal turns each LF into CR LF, and a server's CR LF into
// CR CR LF).
func screen(s string) string {
	return crlf.ReplaceAllString(s, "\n")
}

var crlf = regexp.MustCompile("\r+\n")

func (e *env) transcript() string { return strings.Join(e.out, "\n") + "\n" }

func (e *env) left() time.Duration { return time.Until(e.deadline) }

// run shows "$ command", runs it to its end with no input, and shows what
// it printed (stdout and stderr together, as in a terminal). It returns
// the output and the exit status.
func (e *env) run(command string) (string, int, error) {
	e.out = append(e.out, "$ "+command)
	out, status, err := e.quiet(command, "")
	if err != nil {
		return out, status, err
	}
	e.show(out)
	return out, status, nil
}

// quiet runs command as run does, with input on its stdin, and shows
// nothing.
func (e *env) quiet(command, input string) (string, int, error) {
	cmd := exec.Command("sh", "-c", command)
	cmd.Dir, cmd.Env = e.dir, e.environ()
	cmd.Stdin = strings.NewReader(input)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", -1, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return buf.String(), exit.ExitCode(), nil
		}
		return buf.String(), 0, err
	case <-time.After(e.left()):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return buf.String(), -1, fmt.Errorf("%q: still running at the scenario's deadline; it printed %q", command, buf.String())
	}
}

// proc is a program running in the background: a server, or a client in
// another terminal.
type proc struct {
	command string
	cmd     *exec.Cmd
	master  *os.File // its terminal, for a program started with startTTY
	stdin   io.WriteCloser
	mu      sync.Mutex
	buf     bytes.Buffer
	done    chan struct{}
	err     error
	shown   int // how much of its output a transcript has shown (screen)
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

// output is what the program has printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// start runs command in the background, as typed in another terminal,
// with a pipe for its input; "exec" makes the program itself sh's process.
func (e *env) start(command string) (*proc, error) {
	p := &proc{command: command, done: make(chan struct{})}
	p.cmd = exec.Command("sh", "-c", "exec "+command)
	p.cmd.Dir, p.cmd.Env = e.dir, e.environ()
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := p.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	p.stdin = in
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// startPipeline runs a pipeline in the background (sh stays, so the
// process group is the pipeline's), with no input.
func (e *env) startPipeline(command string) (*proc, error) {
	p := &proc{command: command, done: make(chan struct{})}
	p.cmd = exec.Command("sh", "-c", command)
	p.cmd.Dir, p.cmd.Env = e.dir, e.environ()
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// startTTY runs command on a terminal of its own (a pseudo-terminal), as
// typed in another window: what is typed is echoed, and Ctrl-D is the end
// of input.
func (e *env) startTTY(command string) (*proc, error) {
	master, slave, err := openPTY()
	if err != nil {
		return nil, err
	}
	defer slave.Close()
	p := &proc{command: command, master: master, done: make(chan struct{})}
	p.cmd = exec.Command("sh", "-c", "exec "+command)
	p.cmd.Dir, p.cmd.Env = e.dir, append(e.environ(), "TERM=dumb")
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		master.Close()
		return nil, err
	}
	e.procs = append(e.procs, p)
	copied := make(chan struct{})
	go func() { io.Copy(p, master); close(copied) }()
	go func() {
		p.err = p.cmd.Wait()
		select { // the last output, then EIO once the terminal has no process
		case <-copied:
		case <-time.After(time.Second):
		}
		close(p.done)
	}()
	return p, nil
}

// typeIn types text on the program's terminal or into its input pipe.
func (p *proc) typeIn(text string) error {
	if p.master != nil {
		_, err := p.master.WriteString(text)
		return err
	}
	_, err := io.WriteString(p.stdin, text)
	return err
}

// endInput ends the program's input: Ctrl-D on its terminal, or the
// pipe closed.
func (p *proc) endInput() error {
	if p.master != nil {
		_, err := p.master.WriteString("\x04")
		return err
	}
	return p.stdin.Close()
}

// waitFor waits until the program has printed text (as a terminal shows
// it: see screen); it returns what the program printed, from its start.
func (e *env) waitFor(p *proc, text string) (string, error) {
	for {
		out := p.output()
		if strings.Contains(screen(out), text) {
			return out, nil
		}
		select {
		case <-p.done:
			if out := p.output(); strings.Contains(screen(out), text) {
				return out, nil
			}
			return out, fmt.Errorf("%q ended (%v) without printing %q; it printed %q", p.command, p.err, text, p.output())
		case <-time.After(5 * time.Millisecond):
		}
		if e.left() <= 0 {
			return out, fmt.Errorf("%q did not print %q; it printed %q", p.command, text, out)
		}
	}
}

// waitExit waits for the program to end, and returns its exit status.
func (e *env) waitExit(p *proc) (int, error) {
	select {
	case <-p.done:
	case <-time.After(e.left()):
		return -1, fmt.Errorf("%q did not end; it printed %q", p.command, p.output())
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, p.err
}

// signal sends sig to the program (the process sh became).
func (p *proc) signal(sig syscall.Signal) error {
	return syscall.Kill(p.cmd.Process.Pid, sig)
}

// signalGroup sends sig to the program's process group, as the shell's
// kill %1 does.
func (p *proc) signalGroup(sig syscall.Signal) error {
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// stopped says whether the program is stopped (by SIGTSTP: Ctrl-Z), as
// Linux's /proc/PID/stat says: state T.
func (p *proc) stopped() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return false
	}
	_, after, ok := strings.Cut(string(b), ") ")
	return ok && strings.HasPrefix(after, "T")
}

// running says whether the program is still running.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// pause waits d, for what must not happen (a reply that must not come).
func (e *env) pause(d time.Duration) { time.Sleep(d) }

// freePort returns the first port from preferred up that nothing uses:
// no socket, listening, connected or closing, is bound to it, as far as a
// bind with (reuse) or without SO_REUSEADDR can tell.
func freePort(preferred int, reuse bool) (int, error) {
	for port := preferred; port < preferred+200; port++ {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			return 0, err
		}
		if reuse {
			syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		}
		err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: port})
		if err == nil {
			fd6, err6 := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 0)
			if err6 == nil {
				syscall.SetsockoptInt(fd6, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1)
				if reuse {
					syscall.SetsockoptInt(fd6, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
				}
				err = syscall.Bind(fd6, &syscall.SockaddrInet6{Port: port})
				syscall.Close(fd6)
			}
		}
		syscall.Close(fd)
		if err == nil {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port from %d to %d", preferred, preferred+199)
}

// waitListen waits until a socket listens on port (Linux: /proc/net/tcp
// and tcp6; state 0A is LISTEN), or p, the server, has ended. It makes no connection, which would show
// in the transcripts.
func (e *env) waitListen(port int, p *proc) error {
	want := fmt.Sprintf(":%04X ", port)
	for {
		for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			b, _ := os.ReadFile(f)
			for _, l := range strings.Split(string(b), "\n") {
				fields := strings.Fields(l)
				if len(fields) > 3 && strings.HasSuffix(fields[1]+" ", want) && fields[3] == "0A" {
					return nil
				}
			}
		}
		if e.left() <= 0 || !p.running() {
			return fmt.Errorf("nothing listens on port %d", port)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pidIn reads the pid a fetchadd server logs when it starts.
func pidIn(log string) (int, error) {
	m := loggedPid.FindStringSubmatch(log)
	if m == nil {
		return 0, fmt.Errorf("no pid in the server's log: %q", log)
	}
	return strconv.Atoi(m[1])
}

var loggedPid = regexp.MustCompile(`fetchadd: .*\bpid (\d+)\n`)

// threadIn returns the thread of process pid that is blocked in the
// system call number sysno (/proc/PID/task/TID/syscall), waiting for one.
func (e *env) threadIn(pid int, sysno int) (int, error) {
	for {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, t.Name()))
			if err == nil && strings.HasPrefix(string(b), strconv.Itoa(sysno)+" ") {
				return strconv.Atoi(t.Name())
			}
		}
		if e.left() <= 0 {
			return 0, fmt.Errorf("no thread of %d in system call %d", pid, sysno)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
