package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// A step is one thing a student does in a transcript, or waits for:
// start a program in a terminal, type a line, wait for what it prints,
// press Ctrl-C, run a command and see its output. A scenario is a list of
// steps (scenarios.go); play runs them in order.
type step func(r *runner) error

// runner is the state of one scenario's run: its environment, the ports
// its commands name ({port}, ...), and the programs it started, by
// terminal number or, for a job started with &, by job(N).
type runner struct {
	*env
	ports map[string]int
	progs map[prog]*proc
	jobs  int
}

// prog names a program of the transcript: the number of the terminal it
// runs in, or job(N), the shell's %N.
type prog int

// job is the shell's %n: the nth command started in the background with &.
func job(n int) prog { return prog(-n) }

// play runs the steps on e, stopping at the first that fails.
func play(e *env, steps []step) error {
	r := &runner{env: e, ports: map[string]int{}, progs: map[prog]*proc{}}
	for _, s := range steps {
		if err := s(r); err != nil {
			return err
		}
	}
	return nil
}

// expand puts the ports in text: {port}, and any other port a step named.
func (r *runner) expand(text string) string {
	for name, port := range r.ports {
		text = strings.ReplaceAll(text, "{"+name+"}", fmt.Sprint(port))
	}
	return text
}

// prog is the program p, which a step before started.
func (r *runner) prog(p prog) (*proc, error) {
	if q, ok := r.progs[p]; ok {
		return q, nil
	}
	return nil, fmt.Errorf("no program started as %d", p)
}

// onProg is a step on a program a step before started.
func onProg(p prog, f func(r *runner, q *proc) error) step {
	return func(r *runner) error {
		q, err := r.prog(p)
		if err != nil {
			return err
		}
		return f(r, q)
	}
}

// setPort is a step that sets {name} to the port pick returns.
func setPort(name string, pick func(r *runner) (int, error)) step {
	return func(r *runner) error {
		p, err := pick(r)
		r.ports[name] = p
		return err
	}
}

// The ports.

// labPort is where the lab's server listens, when the port is free.
const labPort = 50007

// port sets {port}: labPort or the next port a server that sets
// SO_REUSEADDR can bind.
func port() step {
	return setPort("port", func(*runner) (int, error) { return freePort(labPort, true) })
}

// portNoReuse sets {port}: labPort or the next port a server that sets no
// SO_REUSEADDR can bind.
func portNoReuse() step {
	return setPort("port", func(*runner) (int, error) { return freePort(labPort, false) })
}

// quietPort sets {port}: labPort or the next port no socket uses at all,
// at either end, in any state: for the transcripts of ss that show every
// socket of a port, which the connections of the transcripts before
// (still in TIME-WAIT for a minute) must not join.
func quietPort() step {
	return setPort("port", func(*runner) (int, error) {
		for p := labPort; p < labPort+200; p++ {
			if inUse(p) {
				continue
			}
			if q, err := freePort(p, false); err == nil && q == p {
				return p, nil
			}
		}
		return 0, errors.New("no quiet port near 50007")
	})
}

// ncPort sets {nc}: the first port above {port} a socket with
// SO_REUSEADDR can bind, for nc -l.
func ncPort() step {
	return setPort("nc", func(r *runner) (int, error) { return freePort(r.ports["port"]+1, true) })
}

// pyPort sets {py}: a port of its own, from labPort+100 up, for a Python
// socket that sets no SO_REUSEADDR and whose connection's socket may close
// first and hold its port for a minute.
func pyPort() step {
	return setPort("py", func(*runner) (int, error) { return freePort(labPort+100, false) })
}

// The narration and the commands run to their end.

// say writes a narration line: "# TEXT".
func say(text string) step {
	return func(r *runner) error {
		r.say("%s", r.expand(text))
		return nil
	}
}

// sh shows each command ("$ command"), runs it to its end (sh -c), and
// shows what it printed.
func sh(commands ...string) step {
	return func(r *runner) error {
		for _, c := range commands {
			if _, _, err := r.run(r.expand(c)); err != nil {
				return err
			}
		}
		return nil
	}
}

// shOK is sh, for a command that must succeed.
func shOK(command string) step {
	return func(r *runner) error {
		c := r.expand(command)
		if _, status, err := r.run(c); err != nil || status != 0 {
			return fmt.Errorf("%s: status %d, %v", c, status, err)
		}
		return nil
	}
}

// withPort replaces a listing's PORT = 50007 with {port}.
var withPort = []string{fmt.Sprintf("PORT = %d ", labPort), "PORT = {port} "}

// listing writes listing name of the notes to file in the scenario's
// directory, with each old string replaced by its new one (expanded).
func listing(name, file string, replace ...string) step {
	return func(r *runner) error {
		text, ok := r.listings[name]
		if !ok {
			return fmt.Errorf("no listing %q in the notes (README.md, NOTES.md, docs/*.md)", name)
		}
		for i := 0; i+1 < len(replace); i += 2 {
			if !strings.Contains(text, replace[i]) {
				return fmt.Errorf("listing %s has no %q", name, replace[i])
			}
			text = strings.ReplaceAll(text, replace[i], r.expand(replace[i+1]))
		}
		return os.WriteFile(filepath.Join(r.dir, file), []byte(text), 0o644)
	}
}

// pause waits d, for what must not happen (a reply that must not come) or
// what nothing shows (the last ACK).
func pause(d time.Duration) step {
	return func(r *runner) error {
		r.pause(d)
		return nil
	}
}

// The programs in other terminals.

// start writes "# terminal N" and "$ command", and starts command there
// in the background, with a pipe for its input.
func start(n int, command string) step { return startIn(n, command, (*env).start) }

// tty is start with command on a terminal of its own (a pseudo-terminal).
func tty(n int, command string) step { return startIn(n, command, (*env).startTTY) }

// startIn starts command in terminal n, the way how does.
func startIn(n int, command string, how func(*env, string) (*proc, error)) step {
	return func(r *runner) error {
		c := r.expand(command)
		r.say("terminal %d", n)
		r.out = append(r.out, "$ "+c)
		p, err := how(r.env, c)
		r.progs[prog(n)] = p
		return err
	}
}

// server starts command in terminal n, as start does, and waits until
// it listens on {port}.
func server(n int, command string) step {
	return func(r *runner) error {
		if err := start(n, command)(r); err != nil {
			return err
		}
		p := r.progs[prog(n)]
		if err := r.waitListen(r.ports["port"], p); err != nil {
			return fmt.Errorf("%w; the server printed %q", err, p.output())
		}
		return nil
	}
}

// background shows "$ command &" and runs the pipeline in the background,
// with no input, as the next job: job(1), job(2), ...
func background(command string) step {
	return func(r *runner) error {
		c := r.expand(command)
		r.out = append(r.out, "$ "+c+" &")
		p, err := r.startPipeline(c)
		r.jobs++
		r.progs[job(r.jobs)] = p
		return err
	}
}

// waitListen waits until program p listens on port {name}.
func waitListen(p prog, name string) step {
	return onProg(p, func(r *runner, q *proc) error { return r.waitListen(r.ports[name], q) })
}

// waitFor waits until program p has printed text.
func waitFor(p prog, text string) step {
	return onProg(p, func(r *runner, q *proc) error {
		_, err := r.waitFor(q, text)
		return err
	})
}

// waitExit waits for program p to end.
func waitExit(p prog) step {
	return onProg(p, func(r *runner, q *proc) error {
		_, err := r.waitExit(q)
		return err
	})
}

// typeLine types line and Enter in terminal n, and waits until its
// program has printed want after it.
func typeLine(n int, line, want string) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		before := len(q.output())
		if err := q.typeIn(line + "\n"); err != nil {
			return err
		}
		for {
			out := q.output()
			if strings.Contains(screen(out[before:]), want) {
				return nil
			}
			if !q.running() || r.left() <= 0 {
				return fmt.Errorf("%q: typed %q, waited for %q; it printed %q", q.command, line, want, out)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// ctrlD is Ctrl-D in terminal n: the end of its program's input.
func ctrlD(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		r.say("terminal %d: Ctrl-D", n)
		return q.endInput()
	})
}

// ctrlC types Ctrl-C on terminal n (a tty): its program gets SIGINT from
// the terminal, and the transcript does not wait for it to end.
func ctrlC(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		r.say("terminal %d: Ctrl-C", n)
		return q.typeIn("\x03")
	})
}

// ctrlZ is Ctrl-Z on terminal n: the program stops, and keeps every
// descriptor it has, its listening socket too. A shell's terminal sends
// SIGTSTP to the job; here the program has no shell above it, and the
// kernel discards SIGTSTP for such a process group (orphaned), so the
// step sends SIGSTOP, which stops it the same way. It waits until the
// program is stopped.
func ctrlZ(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		r.say("terminal %d: Ctrl-Z", n)
		if err := q.signalGroup(syscall.SIGSTOP); err != nil {
			return err
		}
		for !q.stopped() {
			if r.left() <= 0 || !q.running() {
				return fmt.Errorf("terminal %d: Ctrl-Z did not stop %s", n, q.command)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	})
}

// fg is the shell's fg for the program Ctrl-Z stopped in terminal n:
// SIGCONT to its process group.
func fg(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		r.say("terminal %d: fg", n)
		return q.signalGroup(syscall.SIGCONT)
	})
}

// interrupt is Ctrl-C in terminal n, where a server runs: SIGINT to it,
// then wait for it to end.
func interrupt(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		if err := r.connectionsEnded(q); err != nil {
			return err
		}
		r.say("terminal %d: Ctrl-C", n)
		if err := q.signal(syscall.SIGINT); err != nil {
			return err
		}
		_, err := r.waitExit(q)
		return err
	})
}

// interruptUnderStrace is interrupt for a fetchadd under strace, which
// gets the SIGINT itself (strace, with -o, holds its own signals).
func interruptUnderStrace(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		if err := r.connectionsEnded(q); err != nil {
			return err
		}
		r.say("terminal %d: Ctrl-C", n)
		log, err := r.waitFor(q, "listening on")
		if err != nil {
			return err
		}
		pid, err := pidIn(log)
		if err != nil {
			return err
		}
		if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
			return err
		}
		_, err = r.waitExit(q)
		return err
	})
}

// interruptInAccept is Ctrl-C in terminal n, where a fetchadd runs under
// strace, with the SIGINT sent to the thread blocked in accept4.
func interruptInAccept(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		pid, err := pidIn(q.output())
		if err != nil {
			return err
		}
		tid, err := r.threadIn(pid, sysAccept4)
		if err != nil {
			return err
		}
		r.say("terminal %d: Ctrl-C (here: SIGINT to the thread in accept4)", n)
		return tgkill(pid, tid, syscall.SIGINT)
	})
}

// kill is the shell's kill %N: SIGTERM to the job's process group.
func kill(j int) step {
	return onProg(job(j), func(r *runner, q *proc) error {
		r.out = append(r.out, fmt.Sprintf("$ kill %%%d", j))
		return q.signalGroup(syscall.SIGTERM)
	})
}

// What the programs printed.

// printed shows all that terminal n's program printed.
func printed(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		r.say("terminal %d printed:", n)
		r.show(q.output())
		return nil
	})
}

// show shows all that program p printed, with no narration: the output
// of a job, in the terminal that started it.
func show(p prog) step {
	return onProg(p, func(r *runner, q *proc) error {
		r.show(q.output())
		return nil
	})
}

// look shows the lines of terminal n that are complete and not shown
// yet; once its program has ended, the rest too.
func look(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		out := screen(q.output())
		rest := out[q.shown:]
		if !q.running() {
			r.show(rest)
			q.shown = len(out)
			return nil
		}
		if i := strings.LastIndexByte(rest, '\n'); i >= 0 {
			r.show(rest[:i+1])
			q.shown += i + 1
		}
		return nil
	})
}

// lookAll shows the rest of terminal n, the line being typed (a prompt)
// too.
func lookAll(n int) step {
	return onProg(prog(n), func(r *runner, q *proc) error {
		out := screen(q.output())
		r.show(out[q.shown:])
		q.shown = len(out)
		return nil
	})
}

// The kernel's view of the sockets ({port}'s).

// waitCapturing waits until program p (tcpdump) has its packet socket.
func waitCapturing(p prog) step {
	return onProg(p, func(r *runner, q *proc) error {
		for !capturing(q.cmd.Process.Pid) {
			if !q.running() || r.left() <= 0 {
				return fmt.Errorf("tcpdump did not start capturing: %q", q.output())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return nil
	})
}

// waitQueued waits until a connection to {port} not yet accepted holds n
// bytes received.
func waitQueued(n int) step {
	return func(r *runner) error { return r.waitQueued(r.ports["port"], n) }
}

// waitAcceptQueue waits until n connections wait in {port}'s accept queue.
func waitAcceptQueue(n int) step {
	return func(r *runner) error { return r.waitAcceptQueue(r.ports["port"], n) }
}

// waitSynSent waits until a connection to {port} is (want) or no longer
// is in SYN-SENT.
func waitSynSent(want bool) step {
	return func(r *runner) error { return r.waitSynSent(r.ports["port"], want) }
}

// connectionsEnded waits, when nothing the scenario started but the
// server p is still running, until p has logged the end of every
// connection it logged: a client that has exited has closed its end,
// but the server sees that a moment later, and a Ctrl-C in between
// would stop it with the connection open (its log and calls then differ;
// seen under load in lab-lesson). A client still running is meant to be
// connected at the stop: then it does not wait.
func (e *env) connectionsEnded(p *proc) error {
	for _, q := range e.procs {
		if q != p && q.running() {
			return nil
		}
	}
	for {
		out := screen(p.output())
		if len(connStart.FindAllString(out, -1)) <= len(connEnd.FindAllString(out, -1)) {
			return nil
		}
		select {
		case <-p.done:
			return nil
		case <-time.After(5 * time.Millisecond):
		}
		if e.left() <= 0 {
			return fmt.Errorf("%q did not log the end of every connection it logged; it printed %q", p.command, out)
		}
	}
}

// The server's log lines for a connection's start and end (server/limits.go's
// logConnEnd: closed, went away, or another reason after a colon).
var (
	connStart = regexp.MustCompile(`\bfd \d+: connection from `)
	connEnd   = regexp.MustCompile(`\bfd \d+: \S+ (?:closed|went away)|\bfd \d+: \S+: `)
)
