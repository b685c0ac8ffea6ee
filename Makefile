# fetchadd: the fetch-and-add lab on the Berkeley sockets calls.
# make build | run | test | lint | cross | bench | fuzz | clean

GO      ?= go
BIN     ?= bin/fetchadd
ADDR    ?= 127.0.0.1:50007
FUZZTIME ?= 10s
STATICCHECK_VERSION = v0.8.2

.PHONY: build run test lint cross bench fuzz clean

build:
	$(GO) build -o $(BIN) .

# The lab's server, in the foreground: try it with "nc 127.0.0.1 50007".
run: build
	$(BIN) serve -addr $(ADDR)

# Every test, under the race detector.
test:
	$(GO) test -race -count=1 ./...

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

# Go benchmarks of the core (parser, counter, framer, session).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Each fuzz target for FUZZTIME.
fuzz:
	@for target in FuzzParseBytes FuzzParseText FuzzFramer; do \
		$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) ./fetchadd || exit 1; \
	done

clean:
	rm -rf bin
