package main

import "fmt"

// whoListens is the command that names the program listening on port.
func whoListens(port uint16) string { return fmt.Sprintf("ss -ltnp 'sport = :%d'", port) }
