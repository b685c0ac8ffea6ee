// Command sidebyside runs the lab's iterative server four times, in C
// (lecture/c/server.c), Python (lecture/python/server.py), Go as a
// student writes it (lecture/go/server) and Go hardened (fetchadd serve),
// each under strace -f, sends each the same lines (the handout's inputs),
// and prints their socket calls side by side: a row per step of the lab,
// from socket to close, and a legend that explains every difference.
// Where there is no strace (macOS), it says so, and fetchadd's column
// comes from its own -trace.
//
// The table fits 100 columns: each step's calls are stacked, one line for
// each different call, marked with the letters of the columns that make
// it, so that what the servers share shows once and what differs stands
// out; a call too long for its line goes on, indented, on the next. Four
// columns side by side, each call whole on one line, need about 300
// columns: -wide (make side-by-side WIDE=1) prints them so, for a wide
// terminal or a file. (Cutting each column's calls to fit a quarter of
// 100 columns would cut most of them, and the differences are in their
// arguments.)
//
//	make side-by-side [WIDE=1]   (builds bin/fetchadd and the peers, then runs this)
//	go run ./tools/sidebyside [-wide] [-c BIN] [-python SCRIPT] [-twin BIN] [-go BIN] [-input FILE]
//
// The files: main.go (the flags, the report), run.go (each server under
// strace, one session), calls.go (strace's lines to the lab's calls and
// steps), render.go (the table, stacked or wide, and the replies),
// legend.go (the differences explained).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// timeout bounds every wait: a server's start, a reply, its stop.
const timeout = 20 * time.Second

// width is the default output's widest line; the legend is folded at
// legendWidth, as the notes' prose.
const (
	width       = 100
	legendWidth = 78
)

// config says which programs to run and what to send them.
type config struct {
	C, Python, Twin, Go string // the C server binary, the Python script, the Go twin, fetchadd
	Input               []byte // the lines to send, each ending in LF
	Strace              string // strace's path; "": none (fetchadd's column from -trace)
}

// column is one server's story: its calls, one line each, as strace
// writes them (shortened), from socket to the close of the connection.
type column struct {
	Title   string
	Key     string // its letter in the stacked table
	Calls   []string
	Replies []byte // what the server answered
	Note    string // why the column is empty, if it is
}

func main() {
	c := flag.String("c", "bin/peer-c-server", "the C server (make peers builds it)")
	py := flag.String("python", "lecture/python/server.py", "the Python server's script")
	twin := flag.String("twin", "bin/peer-go-server", "the Go twin of the C server (make peers builds it)")
	goBin := flag.String("go", "bin/fetchadd", "fetchadd (make build)")
	input := flag.String("input", "testdata/golden/handout.in", "the lines to send to each server")
	wide := flag.Bool("wide", false, "the columns side by side, each call whole on one line (about 300 columns); by default each step's calls are stacked, to fit 100")
	flag.Parse()
	in, err := os.ReadFile(*input)
	if err != nil {
		fail(err)
	}
	cfg := config{C: *c, Python: *py, Twin: *twin, Go: *goBin, Input: in}
	if runtime.GOOS == "linux" {
		cfg.Strace, _ = exec.LookPath("strace")
	}
	report(os.Stdout, cfg, *input, run(cfg), *wide)
}

// report prints what run found: what was sent, the table, the legend.
func report(w io.Writer, cfg config, input string, cols []column, wide bool) {
	if cfg.Strace == "" {
		fmt.Fprintf(w, "%s\n\n", wrap(fmt.Sprintf("No strace here (%s). strace is Linux's (apt-get install strace); macOS has "+
			"none (dtruss needs System Integrity Protection off). So the C, Python and "+
			"lecture/go columns stay empty, and fetchadd's comes from its own -trace.", runtime.GOOS), legendWidth))
	}
	fmt.Fprintf(w, "%s\n\n", wrap(fmt.Sprintf("The handout's inputs (%s, %d lines) sent to each iterative server, one "+
		"line at a time, each reply awaited, then shutdown(SHUT_WR). Socket calls only: "+
		"strace -f -yy, keeping the calls on TCP sockets from socket to the close.",
		input, bytes.Count(cfg.Input, []byte("\n"))), legendWidth))
	if wide {
		render(w, cols)
	} else {
		renderStacked(w, cols)
	}
	fmt.Fprintln(w)
	for _, l := range legend(cols) {
		fmt.Fprintln(w, wrap(l, legendWidth))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sidebyside:", err)
	os.Exit(1)
}

// The columns, in the order run makes them.
const (
	colC = iota
	colPython
	colTwin
	colGo
)
