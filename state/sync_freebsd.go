package state

import "golang.org/x/sys/unix"

// datasyncCall is what datasync's errors call it.
const datasyncCall = "fsync"

// fdatasync is fsync(2) on FreeBSD, which x/sys gives no fdatasync for;
// fsync writes the metadata too.
func fdatasync(fd int) error { return unix.Fsync(fd) }
