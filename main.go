// Command fetchadd is the fetch-and-add lab done with the Berkeley sockets
// calls: a terminal program, a server and a client.
//
//	fetchadd local                  the handout's terminal program
//	fetchadd serve [-addr H:P]      the lab's server
//	fetchadd client [HOST[:PORT]]   the terminal program, counter on a server
//
// Exit status: 0 done, 1 failed, 2 bad command line (or a mode this
// system refuses).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"fetchadd/bench"
	"fetchadd/client"
	"fetchadd/fetchadd"
	"fetchadd/poller"
	"fetchadd/server"
	"fetchadd/sock"
	"fetchadd/strace"
	"fetchadd/uring"

	"golang.org/x/sys/unix"
)

const usage = `fetchadd: a fetch-and-add counter, terminal program, server and client

Each number you enter is added to a counter; the counter's value before
the add is printed ("  --> 0"), and anything that is not an integer
prints "!!!!".

Usage:
  fetchadd local                   the terminal program
  fetchadd serve [-addr HOST:PORT] the server (default 127.0.0.1:50007)
  fetchadd client [HOST[:PORT]]    the terminal program, counter on a server
  fetchadd bench [flags] [HOST[:PORT]]  load a server and measure it

Run "fetchadd COMMAND -h" for a command's flags.
`

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "local":
		return runLocal(args[1:], stdin, stdout, stderr)
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "client":
		return runClient(args[1:], stdin, stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "fetchadd: unknown command %q: want local, serve, client or bench (fetchadd -h for help)\n", args[0])
	return exitUsage
}

// newFlags makes a command's flag set. For -h it prints a synopsis with
// every flag of the command and then the positional arguments args, the
// text, and the flags' defaults; a bad flag is reported by parseFlags in
// one line.
func newFlags(name, args, text string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		synopsis := []string{"fetchadd", name}
		fs.VisitAll(func(f *flag.Flag) {
			arg, _ := flag.UnquoteUsage(f)
			if arg == "" {
				synopsis = append(synopsis, "[-"+f.Name+"]")
			} else {
				synopsis = append(synopsis, "[-"+f.Name+" "+arg+"]")
			}
		})
		if args != "" {
			synopsis = append(synopsis, args)
		}
		fmt.Fprintf(stdout, "usage: %s\n\n%s", strings.Join(synopsis, " "), text)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags parses args, flags before or after the other arguments
// ("client 127.0.0.1:50007 -trace"), as far as "--"; done says to return
// status at once: after -h, or after reporting a bad flag or argument.
// The other arguments are then fs.Args().
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int, stderr io.Writer) (status int, done bool) {
	help := fs.Usage
	fs.Usage = func() {} // Parse calls it on every error; print it for -h only
	var others []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			help()
			return exitOK, true
		case err != nil:
			return usageError(stderr, fs.Name(), err.Error()), true
		}
		rest := fs.Args()
		if used := len(args) - len(rest); len(rest) == 0 || used > 0 && args[used-1] == "--" {
			others = append(others, rest...)
			break
		}
		others, args = append(others, rest[0]), rest[1:] // an argument: flags may follow
	}
	if len(others) > maxArgs {
		return usageError(stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", others[maxArgs])), true
	}
	fs.Parse(append([]string{"--"}, others...)) // sets no flag; fs.Args() is now others
	return exitOK, false
}

// quietOnInterrupt makes Ctrl-C (SIGINT) end the program at once, quietly
// and with status 0, as the handout's program leaves on Python's
// KeyboardInterrupt. The function it returns undoes it.
func quietOnInterrupt() (undo func()) {
	interrupted := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(interrupted, os.Interrupt)
	go func() {
		select {
		case <-interrupted:
			os.Exit(exitOK)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(interrupted)
		close(done)
	}
}

// traceFlags adds -trace and -trace-strsize to a command; the function it
// returns turns tracing on if asked, with thread ids when the command runs
// several threads of its own.
func traceFlags(fs *flag.FlagSet, stderr io.Writer) func(threads bool) {
	on := fs.Bool("trace", false, "print each socket system call to stderr, as strace does")
	strsize := fs.Int("trace-strsize", 32, "with -trace, cut strings at `N` bytes (strace's -s)")
	return func(threads bool) {
		if *on {
			strace.Enable(stderr, max(*strsize, 0), threads)
		}
	}
}

// usageError reports a bad command line in one line.
func usageError(stderr io.Writer, command, msg string) int {
	fmt.Fprintf(stderr, "fetchadd %s: %s (fetchadd %s -h for help)\n", command, msg, command)
	return exitUsage
}

func runLocal(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("local", "", `The handout's terminal program: type a number, see the counter's value
before the add. Ctrl-D (end of input) or Ctrl-C ends it.
`, stdout)
	if status, done := parseFlags(fs, args, 0, stderr); done {
		return status
	}
	defer quietOnInterrupt()() // replies are flushed as they are written

	if err := fetchadd.RunTerminal(stdin, stdout, new(fetchadd.Counter)); err != nil {
		fmt.Fprintf(stderr, "fetchadd local: %v\n", err)
		return exitFail
	}
	return exitOK
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "", `The fetch-and-add server. All connections share one counter; each line
gets "  --> OLD" or "!!!!", with CRLF. Try it with: nc 127.0.0.1 50007

Connections quiet for -idle are closed (with a line saying so).

Modes:
  iterative  one connection at a time, blocking calls (the lab's server)
  threaded   a thread per connection, blocking calls
  poll       one thread, non-blocking sockets, poll(2)
  event      an event loop per CPU: epoll (Linux) or kqueue (macOS, BSD)
  uring      an event loop per CPU on io_uring (Linux 5.19 and later)

`, stdout)
	addr := fs.String("addr", fetchadd.DefaultAddr, "listen on `HOST:PORT` (0.0.0.0 or [::] for every interface; port 0: any free port)")
	mode := fs.String("mode", server.Iterative, "how to serve: `MODE` iterative, threaded, poll, event or uring")
	loops := fs.Int("loops", 0, "event and uring modes: how many event loops, `N` (0: one per CPU)")
	maxConns := fs.Int("max-conns", 0, fmt.Sprintf("`N` connections served at once; more are refused (0: %d for threaded, %d otherwise)", server.DefaultThreadedConns, server.DefaultMaxConns))
	idle := fs.Duration("idle", server.DefaultIdle, "close a connection that makes no progress (nothing received or sent) for `DURATION`; 0: never")
	statePath := fs.String("state", "", "keep the counter in `FILE`, saved before each reply, read back at start (created if absent); \"\": not kept")
	stateReset := fs.Bool("state-reset", false, "with -state, write 0 over the file first (a damaged file is refused otherwise)")
	lineBudget := fs.Int("line-budget", 0, fmt.Sprintf("`BYTES` all connections together may hold for unfinished lines; past it, long unfinished lines are refused (0: %d)", fetchadd.DefaultLineBudget))
	outBudget := fs.Int("out-budget", 0, fmt.Sprintf("`BYTES` all connections together may hold for replies their clients have not read; past it, each connection holding 1 KiB or more stops being read until its replies drain (0: %d)", server.DefaultOutBudget))
	backlog := fs.Int("backlog", 0, fmt.Sprintf("listen's backlog, `N`: finished handshakes waiting for accept (0: %d; the lab's lesson: 1)", server.Backlog))
	trace := traceFlags(fs, stderr)
	if status, done := parseFlags(fs, args, 0, stderr); done {
		return status
	}
	trace(true) // a Go server always has several threads: Stop runs on another
	cfg := server.Config{Mode: *mode, Loops: *loops, MaxConns: *maxConns, Idle: *idle, Backlog: *backlog, LineBudget: *lineBudget,
		OutBudget: *outBudget, StatePath: *statePath, StateReset: *stateReset}
	if err := server.CheckConfig(cfg); err != nil {
		return usageError(stderr, "serve", err.Error())
	}
	listenAddr, err := server.ResolveAddr(*addr)
	if err != nil {
		return usageError(stderr, "serve", "-addr: "+err.Error())
	}
	cfg.Addr = listenAddr
	cfg.Log = log.New(stderr, "fetchadd: ", log.LstdFlags)
	// SIGINT or SIGTERM stops the server (see untilServed): asked for
	// before the server listens, so that a signal sent as soon as it
	// says it listens finds it ready.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	srv, err := server.Listen(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fetchadd serve: %v%s\n", err, inUseHint(err, cfg.Addr.Port()))
		var refused *uring.RefusedError
		if errors.As(err, &refused) {
			return exitUsage // this system will not run the mode asked for: ask for another
		}
		return exitFail
	}
	srv.SpareP()
	announce(cfg.Log, srv)

	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	status, err := untilServed(cfg.Log, srv.Stop, served, signals, oneSecond)
	if err != nil {
		fmt.Fprintf(stderr, "fetchadd serve: %v\n", err)
		return exitFail
	}
	return status
}

// untilServed waits until Serve returns (served), or a signal comes: then
// it stops the server (stop), which answers the complete lines received
// and closes, and waits for Serve again, but no longer than bound's
// channel takes (then status 0 anyway). A second signal exits at once,
// with 128 + its number, as a shell reports a process killed by it.
func untilServed(logger *log.Logger, stop func(), served <-chan error, signals <-chan os.Signal, bound func() <-chan struct{}) (status int, err error) {
	select {
	case err = <-served:
		return exitOK, err
	case sig := <-signals:
		logger.Printf("%v: stopping (again to quit at once)", sig)
		stop()
	}
	select {
	case err = <-served:
		logger.Printf("stopped")
		return exitOK, err
	case <-bound():
		logger.Printf("not stopped after a second: exiting")
		return exitOK, nil
	case sig := <-signals:
		logger.Printf("%v again: exiting at once", sig)
		return 128 + int(sig.(syscall.Signal)), nil
	}
}

// announce logs where the server listens, how it serves, and how to try it.
func announce(logger *log.Logger, srv *server.Server) {
	a := srv.Addr()
	logger.Printf("pid %d", os.Getpid())
	switch srv.Mode() {
	case server.Iterative:
		logger.Printf("iterative server listening on %s: one connection at a time (other modes: %s)", a, otherModes())
	case server.Threaded:
		logger.Printf("threaded server listening on %s: a thread per connection, at most %d", a, srv.MaxConns())
	case server.Poll:
		logger.Printf("poll server listening on %s: one thread, poll(2), at most %d connections", a, srv.MaxConns())
	case server.Event:
		logger.Printf("event server listening on %s: event loops on %s: %d (GOMAXPROCS %d), at most %d connections", a, poller.EventName, srv.Loops(), runtime.GOMAXPROCS(0), srv.MaxConns())
	case server.Uring:
		logger.Printf("uring server listening on %s: event loops on io_uring: %d (GOMAXPROCS %d), at most %d connections", a, srv.Loops(), runtime.GOMAXPROCS(0), srv.MaxConns())
	}
	here := a
	if a.Addr().IsUnspecified() { // every interface: try it from this machine on loopback
		here = netip.AddrPortFrom(loopback(a.Addr()), a.Port())
	}
	// nc -N: nc closes its side at the end of its input (Ctrl-D), as the
	// lab's clients do; without it, nc would hold the iterative server.
	logger.Printf("try it: nc -N %s %d   or   fetchadd client %s", here.Addr(), here.Port(), here)
	switch {
	case a.Addr().IsLoopback():
		logger.Printf("to let a partner connect, listen on every interface: -addr 0.0.0.0:%d (IPv4) or -addr '[::]:%d' (IPv6)", a.Port(), a.Port())
	case a.Addr().IsUnspecified():
		logger.Printf("a partner connects to this machine's address, port %d (hostname -I lists them; ip route get 1.1.1.1 names the one to give: src): docs/lab-6-partner.md", a.Port())
	}
}

// loopback is the loopback address of an address's family: 127.0.0.1 or ::1.
func loopback(addr netip.Addr) netip.Addr {
	if addr.Is4() {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return netip.IPv6Loopback()
}

// otherModes names the modes but the iterative one, from server.Modes,
// for the iterative server's start-up line: "-mode threaded, poll, event
// or uring".
func otherModes() string {
	var others []string
	for _, m := range server.Modes {
		if m != server.Iterative {
			others = append(others, m)
		}
	}
	last := len(others) - 1
	return "-mode " + strings.Join(others[:last], ", ") + " or " + others[last]
}

// oneSecond is time.After(time.Second) without a Go timer: the first
// timer makes the runtime start its network poller (an epoll descriptor
// and an eventfd), which would show in -trace's strace check as calls
// that are not fetchadd's. A goroutine sleeping in poll(2) on no
// descriptors needs none (an interrupted sleep starts again: a little
// longer, never shorter).
func oneSecond() <-chan struct{} {
	c := make(chan struct{})
	go func() {
		for {
			if _, err := unix.Poll(nil, 1000); err != unix.EINTR {
				break
			}
		}
		close(c)
	}()
	return c
}

func runClient(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("client", "[HOST[:PORT]]", `The terminal program with its counter on a server (default `+fetchadd.DefaultAddr+`):
each line you type is sent, and the server's reply is printed.
`, stdout)
	trace := traceFlags(fs, stderr)
	if status, done := parseFlags(fs, args, 1, stderr); done {
		return status
	}
	trace(false)
	defer quietOnInterrupt()()
	addr := fetchadd.DefaultAddr
	if fs.NArg() == 1 {
		addr = fs.Arg(0)
	}
	if _, _, err := sock.SplitHostPort(addr, fetchadd.DefaultPort); err != nil {
		return usageError(stderr, "client", err.Error())
	}
	fd, err := client.Dial(addr)
	if err != nil {
		fmt.Fprintf(stderr, "fetchadd client: %v\n", err)
		return exitFail
	}
	defer sock.Close(fd)
	if err := client.Run(fd, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "fetchadd client: %v\n", err)
		return exitFail
	}
	return exitOK
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "[HOST[:PORT]]",
		`A load generator: CONNS connections each send DEPTH requests of "add 1",
read their DEPTH replies, and send again, for DURATION or until REQUESTS
have been sent. It prints requests, ops/s, latency, errors, and whether
the replies were all different values, as a fetch-and-add must give.
-proto redis, redis-resp or memcached measures those servers (INCRBY inline or
as a RESP array, incr) the same way.

`, stdout)
	conns := fs.Int("c", 50, "`CONNS` connections")
	depth := fs.Int("P", 1, "pipeline `DEPTH`: requests in flight per connection")
	duration := fs.Duration("d", 5*time.Second, "how long to run, `DURATION`")
	requests := fs.Int64("n", 0, "how many `REQUESTS` in all (instead of -d)")
	protoName := fs.String("proto", "fetchadd", "the server's protocol, `PROTO`: fetchadd, redis, redis-resp or memcached")
	threads := fs.Int("threads", 1, "`N` event loops (threads) of the load generator")
	idle := fs.Int("idle", 0, "`N` connections to open first and leave idle during the run")
	timeout := fs.Duration("timeout", bench.DefaultTimeout, "how long a batch's replies may take, `DURATION`: later ones are errors, and a -d run ends by -d + DURATION (a connect and the counter's read have as long)")
	trace := traceFlags(fs, stderr)
	if status, done := parseFlags(fs, args, 1, stderr); done {
		return status
	}
	trace(*threads > 1)
	proto, ok := bench.Protocols[*protoName]
	switch {
	case !ok:
		return usageError(stderr, "bench", fmt.Sprintf("unknown protocol %q (want fetchadd, redis, redis-resp or memcached)", *protoName))
	case *conns < 1 || *depth < 1 || *threads < 1 || *idle < 0:
		return usageError(stderr, "bench", "-c, -P and -threads must be at least 1, -idle at least 0")
	case *requests < 0 || (*requests == 0 && *duration <= 0):
		return usageError(stderr, "bench", "want -n > 0 or -d > 0")
	case *timeout <= 0:
		return usageError(stderr, "bench", fmt.Sprintf("-timeout %v: want more than 0", *timeout))
	}
	addr := fetchadd.DefaultAddr
	if fs.NArg() == 1 {
		addr = fs.Arg(0)
	}
	if _, _, err := sock.SplitHostPort(addr, fetchadd.DefaultPort); err != nil {
		return usageError(stderr, "bench", err.Error())
	}
	cfg := bench.Config{Addr: addr, Proto: proto, Conns: *conns, Depth: *depth,
		Duration: *duration, Requests: *requests, Threads: *threads, Idle: *idle, Timeout: *timeout}
	if f, ok := stderr.(*os.File); ok && bench.IsTerminal(int(f.Fd())) {
		cfg.Progress = stderr
	}
	stop, undo := stopOnInterrupt(stderr)
	defer undo()
	cfg.Stop = stop
	res, err := bench.Run(cfg)
	if res != nil {
		bench.Print(stdout, cfg, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fetchadd bench: %v\n", err)
		return exitFail
	}
	return benchStatus(stderr, res)
}

// benchStatus is bench's exit status: 1, with a line saying why, if the
// replies were not all different values or some were wrong or missing.
func benchStatus(stderr io.Writer, res *bench.Result) int {
	switch {
	case !res.Distinct:
		fmt.Fprintf(stderr, "fetchadd bench: the replies were NOT all different values: %d repeated, %d outside the run's range\n", res.Dups, res.Outside)
		return exitFail
	case res.Errors > 0:
		fmt.Fprintf(stderr, "fetchadd bench: %d errors: replies missing or not a number\n", res.Errors)
		return exitFail
	}
	return exitOK
}

// stopOnInterrupt makes Ctrl-C (SIGINT) close the channel it returns,
// so that a run ends early and prints what it measured; a second Ctrl-C
// exits at once (130, as the server's second signal), for a run stuck
// where it cannot look at the channel (a connect the kernel is still
// trying). Each says so on stderr. The function it returns undoes it.
func stopOnInterrupt(stderr io.Writer) (stop <-chan struct{}, undo func()) {
	interrupted := make(chan os.Signal, 2)
	stopped := make(chan struct{})
	done := make(chan struct{})
	signal.Notify(interrupted, os.Interrupt)
	go func() {
		for first := true; ; first = false {
			select {
			case <-interrupted:
			case <-done:
				return
			}
			if !first {
				fmt.Fprintf(stderr, "fetchadd bench: interrupted again: exiting at once\n")
				os.Exit(128 + int(syscall.SIGINT))
			}
			fmt.Fprintf(stderr, "fetchadd bench: interrupted: stopping (again to quit at once)\n")
			close(stopped)
		}
	}()
	return stopped, func() {
		signal.Stop(interrupted)
		close(done)
	}
}
