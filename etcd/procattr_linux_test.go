package etcd_test

import "syscall"

// childAttr makes a child (an etcd member, a front-end) die with the test
// binary, should it end without its cleanups (go test's timeout panics).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
