package bench

import (
	"fmt"

	"fetchadd/sock"
)

// openIdle opens cfg.Idle connections that send nothing: the server must
// hold them and still answer the active ones promptly. If one fails, or
// cfg.Stop is closed, it closes those it opened.
func openIdle(cfg Config) ([]int, error) {
	fds := make([]int, 0, cfg.Idle)
	for i := 0; i < cfg.Idle; i++ {
		if closed(cfg.Stop) {
			closeAll(fds)
			return nil, errInterrupted
		}
		fd, err := dial(cfg.Addr, cfg.Timeout)
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("idle connection %d: %w", i+1, err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// closeAll closes the sockets fds.
func closeAll(fds []int) {
	for _, fd := range fds {
		sock.Close(fd)
	}
}
