// Package state keeps the counter in a file, so that a restart, a kill -9
// or a power cut never hands out a value twice: a server replies to an add
// only once the counter with that add in it is on disk (written, then
// fdatasync), and reads the counter back when it starts.
//
// Adds are saved in groups (group commit, Group): one caller at a time,
// the first that finds no commit under way, writes the counter as it is
// and syncs it, while the other event loops and connections that want
// their adds saved wait; when the sync returns, every add made before the
// counter was read is on disk, and they all go on. One write and one
// fdatasync serve all the adds made meanwhile, by every loop, so syncs
// per second do not grow with the number of loops, and a busy server
// saves more adds per sync.
//
// The file is one Store; Group commits to any other the same way
// (fetchadd-etcd's, in the nested module etcd/).
package state

import (
	"fmt"
	"log"

	"fetchadd/fetchadd"

	"golang.org/x/sys/unix"
)

// File is an open state file, and its group commit (Start, Sync, Saved).
type File struct {
	Group
	path     string // as given: the messages name it so
	abs      string // path made absolute by Open: where stillThere looks
	logger   *log.Logger
	fd       int
	slotSize int
	seq      uint64 // the last commit's number
	readOnly error  // not nil: every commit fails with it
	replaced error  // not nil: the file is no longer at path (stillThere)
	digits   []byte // the value being written, in decimal
	buf      []byte // the record being written
}

// Load reads the counter back from the file (Store.Load).
func (f *File) Load() (fetchadd.Number, error) {
	value, _, err := f.load()
	return value, err
}

// Commit writes value as the next commit, into the slot that does not
// hold the last one, and syncs it (Store.Commit): pwrite, then fdatasync,
// then a look that the file is still the one at its path (stillThere):
// only then may the adds be answered. A failed commit leaves seq as it
// was, so the next one writes the same slot again, never the slot that
// holds the last good commit. It writes over bytes the file has, so a
// full disk cannot fail it (on file systems that overwrite in place).
// The counter in memory stays the one to go on from after a failure: the
// next commit that works saves its adds.
func (f *File) Commit(value fetchadd.Number) error {
	switch {
	case f.readOnly != nil:
		return f.readOnly
	case f.replaced != nil:
		return f.replaced
	}
	seq := f.seq + 1
	f.digits = value.Append(f.digits[:0])
	if len(f.digits) > valueRoom(f.slotSize) {
		return fmt.Errorf("a counter of %d digits does not fit in a slot of %d bytes", len(f.digits), f.slotSize)
	}
	f.buf = record(f.buf, seq, f.slotSize, f.digits, 0)
	if _, err := pwrite(f.fd, f.buf, int64(seq%2)*int64(f.slotSize)); err != nil {
		return err
	}
	if err := datasync(f.fd); err != nil {
		return err
	}
	if err := f.stillThere(); err != nil {
		return err
	}
	f.seq = seq
	return nil
}

// Close closes the file; an add still waiting is told the file is closed.
// It returns how many commits were made.
func (f *File) Close() int {
	n := f.Group.Close()
	unix.Close(f.fd) // and so the lock
	return n
}
