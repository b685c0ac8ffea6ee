package main

import (
	"errors"
	"fmt"
	"syscall"
)

// inUseHint is what a serve that could not bind its port adds to the
// error: in a lab the port is nearly always taken by another server, the
// student's own from a terminal they forgot, one stopped with Ctrl-Z
// (suspended, still listening), or a classmate's on a shared machine,
// and the command that names it (whoListens, per OS). "" for any other
// error.
func inUseHint(err error, port uint16) string {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return ""
	}
	return fmt.Sprintf(" (another server on port %d, still running or stopped with Ctrl-Z? %s names it)", port, whoListens(port))
}
