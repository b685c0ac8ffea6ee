package main

import "syscall"

// setNofile sets the process's descriptor limit, soft and hard, to n.
func setNofile(n uint64) error {
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
}
