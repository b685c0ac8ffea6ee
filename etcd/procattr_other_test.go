//go:build !linux

package etcd_test

import "syscall"

// childAttr: elsewhere there is no parent-death signal; the tests'
// cleanups kill the children.
func childAttr() *syscall.SysProcAttr { return nil }
