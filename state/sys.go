package state

import (
	"os"

	"golang.org/x/sys/unix"
)

// The file system calls the state file makes, each retried after EINTR
// and named in its error, as sock/ does for the socket calls. pwrite,
// datasync and syncDir are variables so that a test can make them fail as
// a full or failing disk does (ENOSPC, EIO), or see where and when they
// are made.

func open(path string, flags int) (int, error) {
	var fd int
	err := retry(func() (err error) { fd, err = unix.Open(path, flags|unix.O_CLOEXEC, 0o644); return })
	return fd, wrap("open "+path, err)
}

func fstat(fd int, st *unix.Stat_t) error {
	return wrap("fstat", retry(func() error { return unix.Fstat(fd, st) }))
}

func stat(path string, st *unix.Stat_t) error {
	return wrap("stat "+path, retry(func() error { return unix.Stat(path, st) }))
}

func lstat(path string, st *unix.Stat_t) error {
	return wrap("lstat "+path, retry(func() error { return unix.Lstat(path, st) }))
}

// flock takes fd's file's exclusive lock, or fails with EWOULDBLOCK if
// another open file description holds it.
func flock(fd int) error {
	return wrap("flock", retry(func() error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) }))
}

func pread(fd int, p []byte, off int64) (int, error) {
	var n int
	err := retry(func() (err error) { n, err = unix.Pread(fd, p, off); return })
	return max(n, 0), wrap("pread", err)
}

var pwrite = func(fd int, p []byte, off int64) (int, error) {
	var n int
	err := retry(func() (err error) { n, err = unix.Pwrite(fd, p, off); return })
	if err == nil && n < len(p) {
		err = unix.ENOSPC // a short write to a regular file: the disk is full
	}
	return max(n, 0), wrap("pwrite", err)
}

// datasync makes what was written to fd durable: fdatasync(2) on Linux
// (see sync_*.go for the others).
var datasync = func(fd int) error { return wrap(datasyncCall, retry(func() error { return fdatasync(fd) })) }

func rename(from, to string) error {
	return wrap("rename", retry(func() error { return unix.Rename(from, to) }))
}

// linkNew gives from's file the name to, failing with EEXIST if to
// exists, then takes the name from away: a rename that never replaces,
// where the system has none (rename_*.go). Descriptors opened by the
// name from then show it as deleted (in /proc, lsof), though the file
// is there by its new name.
func linkNew(from, to string) error {
	if err := wrap("link", retry(func() error { return unix.Link(from, to) })); err != nil {
		return err
	}
	return unlink(from)
}

func unlink(path string) error {
	return wrap("unlink "+path, retry(func() error { return unix.Unlink(path) }))
}

// syncDir makes the directory's entries durable: after a rename, the new
// name itself must reach the disk, not only the file's data.
var syncDir = func(dir string) error {
	fd, err := open(dir, unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return wrap("fsync "+dir, retry(func() error { return unix.Fsync(fd) }))
}

func retry(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

func wrap(call string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(call, err)
}
