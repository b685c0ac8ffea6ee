//go:build !linux

package main

import "errors"

// setNofile is for the abuse tests, which are Linux's (/proc).
func setNofile(uint64) error { return errors.New("FETCHADD_NOFILE: Linux only") }
