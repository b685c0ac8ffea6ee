// Package state keeps the counter in a file, so that a restart, a kill -9
// or a power cut never hands out a value twice: a server replies to an add
// only once the counter with that add in it is on disk (written, then
// fdatasync), and reads the counter back when it starts.
//
// Adds are saved in groups (group commit): one caller at a time, the
// first that finds no commit under way, writes the counter as it is and
// syncs it, while the other event loops and connections that want their
// adds saved wait; when the sync returns, every add made before the
// counter was read is on disk, and they all go on. One write and one
// fdatasync serve all the adds made meanwhile, by every loop, so syncs
// per second do not grow with the number of loops, and a busy server
// saves more adds per sync.
package state

import (
	"errors"
	"fmt"
	"log"
	"sync"

	"fetchadd/fetchadd"

	"golang.org/x/sys/unix"
)

// File is an open state file.
type File struct {
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

	mu         sync.Mutex
	cond       sync.Cond
	snapshot   func() (fetchadd.Number, uint64) // the counter and its version
	committing bool                             // a caller of Sync is committing
	waiting    int                              // callers of Sync waiting for it
	tried      uint64                           // the version of the last commit tried
	durable    uint64                           // the newest version on disk
	err        error                            // the last commit's failure; nil if it worked
	closed     bool
	commits    int // commits made
}

// errClosed says the file was closed while an add waited.
var errClosed = errors.New("the state file is closed")

// Start readies the file for Sync. snapshot returns the counter's value
// and its version (the number of adds it holds) at one instant.
func (f *File) Start(snapshot func() (fetchadd.Number, uint64)) {
	_, f.durable = snapshot() // what Open read is on disk
	f.tried = f.durable
	f.snapshot = snapshot
	f.cond.L = &f.mu
}

// Sync waits until the counter of version v (or a later one) is on disk,
// and fails if the commit that was to save it failed. The first caller
// that finds no commit under way makes one itself, in its own thread (no
// hand-off to another): it saves the counter as it is then, with every
// add made so far, by any caller. Those who come while it commits wait,
// and the first of them to wake after it makes the next commit for all.
func (f *File) Sync(v uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		switch {
		case f.durable >= v:
			return nil
		case f.tried >= v && f.err != nil:
			return f.err
		case f.closed:
			return errClosed
		case !f.committing:
			f.committing = true
			f.mu.Unlock()
			value, version := f.snapshot()
			err := f.commit(value)
			f.mu.Lock()
			f.committing = false
			f.tried, f.err = version, err
			if err == nil {
				f.durable = version
				f.commits++
			} else {
				f.logger.Printf("state: %s: %v; the adds it held were refused", f.path, err)
			}
			f.cond.Broadcast()
		default:
			f.waiting++
			f.cond.Wait()
			f.waiting--
		}
	}
}

// Saved says whether the counter of version v is on disk (done, err nil),
// or the commit that was to save it failed (done, err), or neither yet.
func (f *File) Saved(v uint64) (done bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.durable >= v:
		return true, nil
	case f.tried >= v && f.err != nil:
		return true, f.err
	case f.closed:
		return true, errClosed
	}
	return false, nil
}

// commit writes value as the next commit, into the slot that does not
// hold the last one, and syncs it: pwrite, then fdatasync, then a look
// that the file is still the one at its path (stillThere): only then may
// the adds be answered. A failed commit leaves seq as it was, so the next
// one writes the same slot again, never the slot that holds the last good
// commit. It writes over bytes the file has, so a full disk cannot fail
// it (on file systems that overwrite in place).
func (f *File) commit(value fetchadd.Number) error {
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
	f.mu.Lock()
	f.closed = true
	f.cond.Broadcast()
	for f.committing {
		f.cond.Wait()
	}
	f.mu.Unlock()
	unix.Close(f.fd) // and so the lock
	return f.commits
}
