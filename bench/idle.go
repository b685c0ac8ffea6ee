package bench

import (
	"fmt"

	"fetchadd/sock"
)

// openIdle opens n connections that send nothing: the server must hold
// them and still answer the active ones promptly. If one fails, it closes
// those it opened.
func openIdle(addr string, n int) ([]int, error) {
	fds := make([]int, 0, n)
	for i := 0; i < n; i++ {
		fd, err := dial(addr)
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
