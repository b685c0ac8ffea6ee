# fetchadd: the fetch-and-add lab on the Berkeley sockets calls.
# make build | run | test | lint | cross | bench | compare | compare-etcd | strace | fuzz | clean
# make peers | side-by-side [WIDE=1]: the lab in C, Python and Go beside fetchadd (lecture/)
# make notes | notes-check: the transcripts of README.md, NOTES.md and docs/, made by the code (tools/notes)

GO      ?= go
BIN     ?= bin/fetchadd
ADDR    ?= 127.0.0.1:50007
FUZZSCALE ?= 1
STATICCHECK_VERSION = v0.8.2

.PHONY: build run test lint cross bench compare compare-etcd strace fuzz clean peers side-by-side notes notes-check FORCE

build:
	$(GO) build -o $(BIN) .

# The lab's server, in the foreground: try it with "nc 127.0.0.1 50007".
run: build
	$(BIN) serve -addr $(ADDR)

# Every test, under the race detector; then, without it, -trace against
# strace (Linux; see trace_test.go) and the tests that measure the
# server's memory, whose figures the race detector's own memory swamps.
# The peers' tests (lecture/ in C and Python: lecture_test.go,
# tools/sidebyside) are part of go test ./...; they build the peers
# themselves, and skip, naming it, when cc, python3 or strace is missing
# (.ci/run installs them). Last, notes-check: the notes' transcripts
# against what the code prints now.
test:
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run 'TestTraceMatchesStrace|TestSoak|TestUnfinishedLines|TestNeverReadingClients|TestBadInput' .
	$(MAKE) notes-check

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt wants to change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

# The lab machines' systems: Linux, macOS and FreeBSD, on amd64 and arm64.
cross:
	@for os in linux darwin freebsd; do for arch in amd64 arm64; do \
		echo "GOOS=$$os GOARCH=$$arch go build"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o bin/fetchadd-$$os-$$arch . || exit 1; \
	done; done

# Go benchmarks of the core (parser, counter, framer, session), then the
# event-mode server under fetchadd bench at depth 1 and 32.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@$(BIN) serve -mode event -loops 1 -addr 127.0.0.1:31099 2>/dev/null & pid=$$!; \
	for i in $$(seq 50); do $(BIN) bench -n 1 -c 1 127.0.0.1:31099 >/dev/null 2>&1 && break; done; \
	$(BIN) bench -c 50 -P 1 -d 3s 127.0.0.1:31099; $(BIN) bench -c 50 -P 32 -d 3s 127.0.0.1:31099; \
	kill $$pid

# The lab's server under strace: its socket calls, live, on this terminal,
# between the server's log lines (docs/lab-8-watching.md).
# strace writes to a filter (-o "|..."), so each call comes out whole,
# never cut by a log line; the filter leaves out the calls on files (-yy
# names them: 3</etc/ld.so.cache>), the dynamic loader's and the Go
# runtime's at start-up and the time zone's at the first log line, and
# ignores Ctrl-C, as strace does with -o, so that the stop is shown too.
STRACE_CALLS = %network,read,close,pipe2,ppoll,epoll_create1,epoll_ctl,epoll_wait,epoll_pwait
STRACE_FILTER = trap '' INT; exec grep --line-buffered -v '^[0-9]* *[a-z0-9_]*([0-9]*</'
strace: build
	strace -f -qq -yy -s 64 -o "|$(STRACE_FILTER)" -e trace=$(STRACE_CALLS) -e signal=none $(BIN) serve -addr $(ADDR) $(SERVE_FLAGS)

# fetchadd's modes beside the C epoll server (the yardstick), redis and
# memcached (when installed), one run; TARGETS="c-epoll fetchadd-event"
# (an environment variable, or make compare TARGETS=...) picks some.
compare:
	scripts/compare.sh

# The counter in etcd (the nested module etcd/, docs/etcd.md): adds/s and
# latency through fetchadd-etcd over one etcd member and three, beside the
# disk's synced writes and -state FILE, and the takeover after kill -9.
compare-etcd:
	scripts/compare-etcd.sh

# Each fuzz target for a number of runs of it (-fuzztime Nx), a few
# seconds' worth here, times FUZZSCALE. Not a time (-fuzztime 5s): Go
# 1.26's fuzzing fails a target with "context deadline exceeded", having
# found nothing, when a worker is still busy at the deadline on a loaded
# machine (go.dev/issue/75804, fixed in Go 1.27; seen here in CI).
fuzz:
	@for t in FuzzParseBytes:300000 FuzzParseText:100000 FuzzFramer:30000; do \
		target=$${t%%:*}; runs=$$(( $${t##*:} * $(FUZZSCALE) )); \
		$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $${runs}x ./fetchadd || exit 1; \
	done

# The lab in the lecture's languages and in Go (lecture/), run the same
# way: a server takes [HOST] PORT (HOST 127.0.0.1; port 0: any free port,
# which it says), a client HOST PORT and numbers on stdin. The Python ones
# are wrappers.
PEER_CFLAGS = -Wall -Wextra -O2
PEERS = bin/peer-go-server bin/peer-go-client bin/peer-c-server bin/peer-c-client bin/peer-python-server bin/peer-python-client bin/peer-python-threaded-server
# The C epoll server, make compare's yardstick: epoll and accept4 are
# Linux's, so elsewhere make peers leaves it out.
ifeq ($(shell uname -s),Linux)
PEERS += bin/peer-c-epoll-server
endif
PYWRAP = @mkdir -p bin && printf '\#!/bin/sh\n\# make peers: runs %s\nexec python3 "$$(dirname "$$0")/../%s" "$$@"\n' $< $< >$@ && chmod +x $@ && echo "$@: python3 $<"

peers: $(PEERS)

bin/peer-c-%: lecture/c/%.c
	@mkdir -p bin
	$(CC) $(PEER_CFLAGS) -o $@ $<

# The pattern's recipe: the source's name has an underscore, the binary's
# a dash like the others'.
bin/peer-c-epoll-server: lecture/c/epoll_server.c
	@mkdir -p bin
	$(CC) $(PEER_CFLAGS) -o $@ $<

# The Go twins (lecture/go/NAME/NAME.go) use sock/: go build, whose cache
# knows what changed, decides whether to build them again.
bin/peer-go-%: FORCE
	$(GO) build -o $@ ./lecture/go/$*

bin/peer-python-server: lecture/python/server.py
	$(PYWRAP)
bin/peer-python-client: lecture/python/client.py
	$(PYWRAP)
bin/peer-python-threaded-server: lecture/python/threaded_server.py
	$(PYWRAP)

# The transcripts of the notes (README.md, NOTES.md and the chapters in
# docs/), each between <!-- transcript NAME: ... --> and <!-- end -->,
# made by running the programs as they are (tools/notes): notes writes
# them in place; notes-check makes them again in memory and fails, with a
# diff, where a file differs after normalising only what varies from run
# to run (pids, ports, times, ...); both check what the notes name in the
# repository and link to (tools/notes/refs.go). Linux, with strace,
# tcpdump (as root), nc, ss and python3 (.ci/run installs them); a
# transcript whose tools are missing is skipped, saying so, except in CI.
notes: build peers
	$(GO) run ./tools/notes

notes-check: build peers
	$(GO) run ./tools/notes -check

# The handout's inputs sent to the iterative servers under strace (C,
# Python, the Go twin, fetchadd serve), their socket calls side by side,
# and a legend of the differences: stacked, each step's calls marked with
# their columns, to fit 100 columns; WIDE=1: in four columns, each call
# whole on one line (about 300 columns).
side-by-side: build peers
	$(GO) run ./tools/sidebyside $(if $(WIDE),-wide)

clean:
	rm -rf bin
