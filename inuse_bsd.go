//go:build darwin || freebsd

package main

import "fmt"

// whoListens is the command that names the program listening on port:
// lsof, which macOS has (FreeBSD's is a package; sockstat -l is its own).
func whoListens(port uint16) string { return fmt.Sprintf("lsof -nP -iTCP:%d -sTCP:LISTEN", port) }
