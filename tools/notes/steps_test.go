package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSteps: a scenario's steps make its transcript: narration and
// commands with the ports put in, what the commands print, a program in
// another terminal typed into and ended; a step on a program no step
// started fails, naming it.
func TestSteps(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEnv(root, "", nil, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	err = play(e, []step{
		port(),
		say("port {port}"),
		sh("echo {port}"),
		start(3, "cat"),
		typeLine(3, "hello", "hello\n"),
		ctrlD(3),
		waitExit(3),
		printed(3),
	})
	if err != nil {
		t.Fatalf("play: %v\n%s", err, e.transcript())
	}
	got := strings.Split(strings.TrimSuffix(e.transcript(), "\n"), "\n")
	if len(got) < 3 || !strings.HasPrefix(got[0], "# port 5") {
		t.Fatalf("the transcript does not start with the port: %q", got)
	}
	p := strings.TrimPrefix(got[0], "# port ")
	want := []string{"# port " + p, "$ echo " + p, p, "# terminal 3", "$ cat", "# terminal 3: Ctrl-D", "# terminal 3 printed:", "hello"}
	if !slices.Equal(got, want) {
		t.Errorf("transcript:\n got  %q\n want %q", got, want)
	}

	if err := play(e, []step{waitExit(4)}); err == nil || !strings.Contains(err.Error(), "no program started as 4") {
		t.Errorf("a wait on terminal 4, where nothing was started: %v", err)
	}
}

// TestCtrlZ: Ctrl-Z stops a program in its terminal (the kernel says
// so: state T), and fg lets it go on: a line typed while it was stopped
// is read after fg.
func TestCtrlZ(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEnv(root, "", nil, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	// sed, unbuffered, writes each line it reads with a mark.
	err = play(e, []step{
		tty(1, "sed -u 's/^/read: /'"),
		typeLine(1, "one", "read: one\n"),
		ctrlZ(1),
		onProg(prog(1), func(r *runner, q *proc) error {
			if !q.stopped() {
				t.Error("not stopped after Ctrl-Z")
			}
			return q.typeIn("two\n")
		}),
		fg(1),
		waitFor(prog(1), "read: two"),
		ctrlD(1),
		waitExit(1),
	})
	if err != nil {
		t.Fatalf("play: %v\n%s", err, e.transcript())
	}
	got := strings.Split(strings.TrimSuffix(e.transcript(), "\n"), "\n")
	for _, want := range []string{"# terminal 1: Ctrl-Z", "# terminal 1: fg"} {
		if !slices.Contains(got, want) {
			t.Errorf("the transcript has no %q: %q", want, got)
		}
	}
}
