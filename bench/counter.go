package bench

import (
	"bufio"
	"fmt"

	"fetchadd/client"
	"fetchadd/sock"
)

// readCounter reads the counter before the run ("add 0") on a connection
// of its own, and sets up what the protocol needs first.
func readCounter(cfg Config) (int64, error) {
	fd, err := dial(cfg.Addr)
	if err != nil {
		return 0, err
	}
	defer sock.Close(fd)
	r := bufio.NewReader(client.Reader(fd))
	if cfg.Proto.setup != "" {
		if err := sock.SendAll(fd, []byte(cfg.Proto.setup)); err != nil {
			return 0, err
		}
		if _, err := r.ReadBytes('\n'); err != nil {
			return 0, err
		}
	}
	if err := sock.SendAll(fd, cfg.Proto.Add(0)); err != nil {
		return 0, err
	}
	line, err := r.ReadBytes('\n')
	if err != nil {
		return 0, err
	}
	v, ok := cfg.Proto.Reply(line, 0)
	if !ok {
		return 0, fmt.Errorf("%s: unexpected reply %q to %q", cfg.Addr, line, cfg.Proto.Add(0))
	}
	return v, nil
}
