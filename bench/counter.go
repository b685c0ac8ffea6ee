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

// readCounter reads the counter before the run ("add 0") on a connection
// of its own, and sets up what the protocol needs first. Each reply must
// come within cfg.Timeout (SO_RCVTIMEO) and be at most maxReply bytes.
func readCounter(cfg Config) (int64, error) {
	fd, err := dial(cfg.Addr)
	if err != nil {
		return 0, err
	}
	defer sock.Close(fd)
	tv := unix.NsecToTimeval(cfg.Timeout.Nanoseconds())
	if err := sock.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, err
	}
	r := bufio.NewReaderSize(client.Reader(fd), maxReply)
	if cfg.Proto.setup != "" {
		if err := sock.SendAll(fd, []byte(cfg.Proto.setup)); err != nil {
			return 0, err
		}
		if _, err := readReply(r, cfg.Addr, cfg.Timeout); err != nil {
			return 0, err
		}
	}
	request := cfg.Proto.Add(0)
	if err := sock.SendAll(fd, request); err != nil {
		return 0, err
	}
	line, err := readReply(r, cfg.Addr, cfg.Timeout)
	if err != nil {
		return 0, fmt.Errorf("%w (to %q)", err, request)
	}
	v, ok := cfg.Proto.Reply(line, 0)
	if !ok {
		return 0, fmt.Errorf("%s: unexpected reply %s to %q", cfg.Addr, quote(line), request)
	}
	return v, nil
}

// readReply reads a reply line of at most maxReply bytes, which must come
// within timeout.
func readReply(r *bufio.Reader, addr string, timeout time.Duration) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case err == nil:
		return line, nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%s: a reply longer than %d bytes: %s", addr, maxReply, quote(line))
	case errors.Is(err, unix.EAGAIN):
		return nil, fmt.Errorf("%s: no reply within %v", addr, timeout)
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s: the server closed the connection", addr)
	}
	return nil, err
}
