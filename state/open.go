package state

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"fetchadd/fetchadd"

	"golang.org/x/sys/unix"
)

// Open reads the counter saved in the state file at path and returns the
// file, ready for Start, and the value. A file that does not exist is
// created, holding 0. A file that is damaged, cut short or not a state
// file is refused, with an error that names it and says what is wrong,
// and is left as it was; reset says to write 0 over it instead. A file
// the process may read but not write is opened all the same: its value
// is served, and every commit fails, so every add is refused.
func Open(path string, reset bool, logger *log.Logger) (*File, fetchadd.Number, error) {
	f := &File{path: path, logger: logger, fd: -1, lockFd: -1}
	if err := f.lock(); err != nil {
		return nil, fetchadd.Number{}, err
	}
	opened, value, err := f.open(reset)
	if err != nil && f.lockFd >= 0 {
		unix.Close(f.lockFd)
	}
	return opened, value, err
}

// lock takes the lock file PATH.lock, so that no two servers use one
// state file: each would hand out the other's values. The lock file is
// never replaced, as the state file is by create; flock's lock goes when
// the process does, however it ends. On a file system the process cannot
// write, where there is no lock file, there is nothing to protect.
func (f *File) lock() error {
	name := f.path + ".lock"
	fd, err := open(name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW)
	if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) {
		if fd, err = open(name, unix.O_RDONLY|unix.O_NOFOLLOW); errors.Is(err, unix.ENOENT) {
			return nil
		}
	}
	if err != nil {
		return f.wrap(err)
	}
	if err := retry(func() error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return f.errorf("in use by another server (%s is locked)", name)
		}
		return f.wrap(wrap("flock", err))
	}
	f.lockFd = fd
	return nil
}

// open reads the file, or creates it (see Open).
func (f *File) open(reset bool) (*File, fetchadd.Number, error) {
	path, logger := f.path, f.logger
	if reset {
		if err := f.create(fetchadd.Int(0)); err != nil {
			return nil, fetchadd.Number{}, f.wrap(err)
		}
		logger.Printf("state: %s: reset to 0", path)
		return f, fetchadd.Int(0), nil
	}
	fd, err := open(path, unix.O_RDWR)
	switch {
	case errors.Is(err, unix.ENOENT):
		if err := f.create(fetchadd.Int(0)); err != nil {
			return nil, fetchadd.Number{}, f.wrap(err)
		}
		logger.Printf("state: %s: created, holding 0", path)
		return f, fetchadd.Int(0), nil
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EROFS), errors.Is(err, unix.EPERM):
		f.readOnly = fmt.Errorf("state file %s is read-only: %w", path, err)
		if fd, err = open(path, unix.O_RDONLY); err != nil {
			return nil, fetchadd.Number{}, f.wrap(err)
		}
	case err != nil:
		return nil, fetchadd.Number{}, f.wrap(err)
	}
	f.fd = fd
	value, err := f.load()
	if err != nil {
		unix.Close(fd)
		return nil, fetchadd.Number{}, err
	}
	if f.readOnly != nil {
		logger.Printf("state: %v: every add will be refused", f.readOnly)
	}
	return f, value, nil
}

// wrap says that err is about the file: "state file PATH: ...".
func (f *File) wrap(err error) error {
	return fmt.Errorf("state file %s: %w", f.path, err)
}

// errorf is an error about the file: "state file PATH: ...".
func (f *File) errorf(format string, args ...any) error {
	return fmt.Errorf("state file %s: %s", f.path, fmt.Sprintf(format, args...))
}

// maxSize is the largest file load reads: far more than two slots of the
// largest counter, far less than would hurt to read.
const maxSize = 1 << 20

// load reads both slots and takes the newer good one. The other may be
// torn by a crash in the middle of its write, a write no client was
// answered for, or damaged if it held an older commit than the good one:
// neither hides a value a client has seen. Any other fault refuses the
// file.
func (f *File) load() (fetchadd.Number, error) {
	var st unix.Stat_t
	if err := fstat(f.fd, &st); err != nil {
		return fetchadd.Number{}, f.wrap(err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fetchadd.Number{}, f.errorf("not a regular file")
	case st.Size > maxSize:
		return fetchadd.Number{}, f.errorf("not a fetchadd state file (%d bytes, too big for one)", st.Size)
	}
	b := make([]byte, st.Size)
	if n, err := pread(f.fd, b, 0); err != nil || n < len(b) {
		return fetchadd.Number{}, f.errorf("read %d of %d bytes: %v", n, len(b), err)
	}
	if !bytes.HasPrefix(b, []byte(magic)) && (len(b) < 2*pageSize || !bytes.HasPrefix(b[len(b)/2:], []byte(magic))) {
		return fetchadd.Number{}, f.errorf("not a fetchadd state file (%d bytes, no FETCHADD header); move it away, or give another -state", len(b))
	}
	size := int(st.Size / 2)
	if first := readSlot(b); first.header {
		size = first.slotSize
	}
	if size < pageSize || size%pageSize != 0 || int64(2*size) != st.Size {
		return fetchadd.Number{}, f.errorf("cut short or damaged: %d bytes, want two slots of %d", st.Size, size)
	}
	slots := [2]slot{readSlot(b[:size]), readSlot(b[size:])}
	for i := range slots {
		if s := &slots[i]; s.ok && (s.seq%2 != uint64(i) || s.slotSize != size) {
			s.ok, s.problem = false, fmt.Sprintf("commit %d of slot size %d does not belong there", s.seq, s.slotSize)
		}
	}
	if slots[0].ok && slots[1].ok {
		newer := 0
		if slots[1].seq > slots[0].seq {
			newer = 1
		}
		return f.use(slots, newer), nil
	}
	for g := range slots {
		good, other := slots[g], slots[1-g]
		if !good.ok {
			continue
		}
		switch {
		case other.header && other.seq == good.seq+1 && !other.ends && other.size > sectorSize:
			f.logger.Printf("state: %s: slot %d was cut short by a crash in the middle of commit %d, which no client was answered for; using slot %d", f.path, 1-g, other.seq, g)
			return f.use(slots, g), nil
		case other.header && other.seq < good.seq && other.problem != "" && !strings.HasPrefix(other.problem, "written in format"):
			f.logger.Printf("state: %s: slot %d, an older commit, is damaged (%s); using slot %d, the newer", f.path, 1-g, other.problem, g)
			return f.use(slots, g), nil
		}
		return fetchadd.Number{}, f.errorf("damaged: slot %d: %s; the other slot holds %v from commit %d, but the damaged one may hold a later commit that clients saw, so neither is used; the file is left as it is (-state-reset starts over at 0)", 1-g, other.problem, good.value, good.seq)
	}
	for i, s := range slots {
		if strings.HasPrefix(s.problem, "written in format") {
			return fetchadd.Number{}, f.errorf("slot %d: %s", i, s.problem)
		}
	}
	return fetchadd.Number{}, f.errorf("damaged: neither slot holds a good record (slot 0: %s; slot 1: %s); the file is left as it is (-state-reset starts over at 0)", slots[0].problem, slots[1].problem)
}

// use takes slot i of slots as the file's last commit.
func (f *File) use(slots [2]slot, i int) fetchadd.Number {
	f.slotSize, f.seq = slots[i].slotSize, slots[i].seq
	return slots[i].value
}

// create writes a new state file holding value and makes it the file at
// path: written and synced under a temporary name, renamed over path, and
// the directory synced so that the new name is on disk too.
func (f *File) create(value fetchadd.Number) error {
	tmp := f.path + ".tmp"
	os.Remove(tmp) // left by a crash; never written through: it may be a link
	fd, err := open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	// Both slots hold value, the newer as commit f.seq+1, each in the
	// slot its number says (seq%2).
	b := make([]byte, 2*slotSize)
	for seq := f.seq; seq <= f.seq+1; seq++ {
		at := int(seq%2) * slotSize
		record(b[at:at], seq, slotSize, value)
	}
	if _, err = pwrite(fd, b, 0); err == nil {
		err = datasync(fd)
	}
	if err == nil {
		err = rename(tmp, f.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(f.path))
	}
	if err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return err
	}
	if f.fd >= 0 {
		unix.Close(f.fd)
	}
	f.fd, f.slotSize, f.seq = fd, slotSize, f.seq+1
	return nil
}
