package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"fetchadd/client"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// errInterrupted says Config.Stop was closed before the run began: there
// is nothing measured to print.
var errInterrupted = errors.New("interrupted before the run began")

// errLate says a reply did not come in time (readReply says within what).
var errLate = errors.New("late")

// readCounter reads the counter before the run ("add 0") on a connection
// of its own, and sets up what the protocol needs first. Each reply must
// come whole within cfg.Timeout, however the server sends its bytes (one
// every so often, and the reply may never end), and be at most maxReply
// bytes; closing cfg.Stop ends the wait.
func readCounter(cfg Config) (int64, error) {
	fd, err := dial(cfg.Addr, cfg.Timeout)
	if err != nil {
		return 0, err
	}
	defer sock.Close(fd)
	in := &timedReader{fd: fd, stop: cfg.Stop}
	r := bufio.NewReaderSize(in, maxReply)
	if cfg.Proto.setup != "" {
		if err := sock.SendAll(fd, []byte(cfg.Proto.setup)); err != nil {
			return 0, err
		}
		in.deadline = time.Now().Add(cfg.Timeout)
		if _, err := readReply(r, cfg.Addr, cfg.Timeout); err != nil {
			return 0, err
		}
	}
	request := cfg.Proto.Add(0)
	if err := sock.SendAll(fd, request); err != nil {
		return 0, err
	}
	in.deadline = time.Now().Add(cfg.Timeout)
	line, err := readReply(r, cfg.Addr, cfg.Timeout)
	switch {
	case errors.Is(err, errInterrupted):
		return 0, err
	case err != nil:
		return 0, fmt.Errorf("%w (to %q)", err, request)
	}
	v, ok := cfg.Proto.Reply(line, 0)
	if !ok {
		return 0, fmt.Errorf("%s: unexpected reply %s to %q", cfg.Addr, quote(line), request)
	}
	return v, nil
}

// readReply reads a reply line of at most maxReply bytes, which must come
// within timeout (r's timedReader holds the deadline).
func readReply(r *bufio.Reader, addr string, timeout time.Duration) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case err == nil:
		return line, nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%s: a reply longer than %d bytes: %s", addr, maxReply, quote(line))
	case errors.Is(err, errLate):
		return nil, fmt.Errorf("%s: no reply within %v", addr, timeout)
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s: the server closed the connection", addr)
	}
	return nil, err
}

// timedReader reads a blocking socket until a deadline: each Read waits
// in poll(2) for what is left of the time, and fails with errLate once it
// has passed, so that a reply sent a byte at a time cannot hold the
// reader longer than one deadline. It looks at stop every stopPoll
// (errInterrupted).
type timedReader struct {
	fd       int
	deadline time.Time
	stop     <-chan struct{}
}

func (r *timedReader) Read(p []byte) (int, error) {
	for {
		if closed(r.stop) {
			return 0, errInterrupted
		}
		left := time.Until(r.deadline)
		if left <= 0 {
			return 0, errLate
		}
		if r.stop != nil {
			left = min(left, stopPoll)
		}
		ready := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}}
		n, err := sock.Poll(ready, int((left+time.Millisecond-1)/time.Millisecond))
		if err != nil {
			return 0, err
		}
		if n > 0 {
			return client.Reader(r.fd).Read(p)
		}
	}
}
