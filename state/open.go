package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"fetchadd/fetchadd"

	"golang.org/x/sys/unix"
)

// Open reads the counter saved in the state file at path and returns the
// file, locked and ready for Start, and the value. A file that does not
// exist is created, holding 0; a symbolic link to nothing is refused. A
// file that is damaged, cut short or not a state file is refused, with an
// error that names it and says what is wrong, and is left as it was;
// reset says to write 0 over it instead. A file in format version 1 is
// read and rewritten in version 2. A file the process may read but not
// write is opened all the same: its value is served, and every commit
// fails, so every add is refused.
//
// The lock is flock's, on the file itself: every name of the file (a
// symbolic or hard link) reaches it, it goes when the process does,
// however it ends, and no lock file is left beside the state file. A
// file another server holds is refused, reset or not.
//
// A relative path is taken from the working directory as Open finds it:
// if that directory is later moved, the file is no longer at its path
// (stillThere), though the relative path, read from where the directory
// went, still names it.
func Open(path string, reset bool, logger *log.Logger) (*File, fetchadd.Number, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fetchadd.Number{}, fmt.Errorf("state file %s: %w", path, err)
	}
	f := &File{path: path, abs: abs, logger: logger, fd: -1}
	f.Group = Group{store: f, name: path, logger: logger} // the counter is set from what open reads
	value, err := f.open(reset)
	if err != nil {
		if f.fd >= 0 {
			unix.Close(f.fd)
		}
		return nil, fetchadd.Number{}, err
	}
	return f, value, nil
}

// maxTries bounds how often open starts again because the file at path
// was replaced, removed or created by someone else while it opened it.
const maxTries = 100

// open opens, locks and reads the file, or creates it (see Open).
func (f *File) open(reset bool) (fetchadd.Number, error) {
	for try := 0; try < maxTries; try++ {
		err := f.openLocked()
		if errors.Is(err, unix.ENOENT) {
			absent, err := f.absent()
			if err != nil || !absent {
				if err != nil {
					return fetchadd.Number{}, err
				}
				continue // made meanwhile: open it
			}
			if err := f.create(fetchadd.Int(0), f.path, false); errors.Is(err, unix.EEXIST) {
				continue // another server made it meanwhile: open that one
			} else if err != nil {
				return fetchadd.Number{}, f.wrap(err)
			}
			f.logger.Printf("state: %s: created, holding 0", f.path)
			return fetchadd.Int(0), nil
		}
		if err != nil {
			return fetchadd.Number{}, err
		}
		if how, err := moved(f.fd, f.abs); err != nil || how != "" {
			unix.Close(f.fd) // replaced or removed between open and flock
			f.fd = -1
			if err != nil {
				return fetchadd.Number{}, f.wrap(err)
			}
			continue
		}
		return f.read(reset)
	}
	return fetchadd.Number{}, f.errorf("replaced or removed %d times while it was being opened", maxTries)
}

// openLocked opens the file at path, for writing too if it may, and takes
// its lock. It fails with ENOENT if there is no file there.
func (f *File) openLocked() error {
	f.readOnly = nil
	fd, err := openState(f.path, unix.O_RDWR)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EROFS) || errors.Is(err, unix.EPERM) {
		f.readOnly = fmt.Errorf("state file %s is read-only: %w", f.path, err)
		fd, err = openState(f.path, unix.O_RDONLY)
	}
	if errors.Is(err, unix.ENOENT) {
		return err
	}
	if err != nil {
		return f.wrap(err)
	}
	if err := flock(fd); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return f.errorf("in use by another server (it holds the file's lock)")
		}
		return f.wrap(err)
	}
	f.fd = fd
	return nil
}

// openState opens what is at the state file's path, which may be anything
// (load refuses what is not a regular file), without waiting: a FIFO
// opened for reading only would wait for a writer for ever, and the
// server with it, deaf to SIGINT and SIGTERM. O_NONBLOCK changes nothing
// for a regular file's reads and writes.
func openState(path string, flags int) (int, error) {
	return open(path, flags|unix.O_NONBLOCK)
}

// absent says whether nothing at all is at path. A symbolic link to
// nothing is refused: creating the file would make it at the link's
// target, wherever that points.
func (f *File) absent() (bool, error) {
	var st unix.Stat_t
	err := lstat(f.path, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		return true, nil
	case err != nil:
		return false, f.wrap(err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		to, _ := os.Readlink(f.path)
		return false, f.errorf("a symbolic link to %s, which does not exist: refused rather than create a file there (give -state that path to create it)", to)
	}
	return false, nil
}

// read reads the locked file, or writes 0 over it if reset, and rewrites
// a version 1 file in version 2.
func (f *File) read(reset bool) (fetchadd.Number, error) {
	if reset {
		if err := f.replace(fetchadd.Int(0)); err != nil {
			return fetchadd.Number{}, f.wrap(err)
		}
		f.logger.Printf("state: %s: reset to 0", f.path)
		return fetchadd.Int(0), nil
	}
	value, v1, err := f.load()
	switch {
	case err != nil:
		return fetchadd.Number{}, err
	case f.readOnly != nil:
		f.logger.Printf("state: %v: every add will be refused", f.readOnly)
	case v1:
		if err := f.replace(value); err != nil {
			return fetchadd.Number{}, f.wrap(fmt.Errorf("rewriting it in format version %d: %w", version, err))
		}
		f.logger.Printf("state: %s: rewritten from format version 1 to %d, holding %v", f.path, version, value)
	}
	return value, nil
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

// load reads the whole file and decodes it; v1 says it is in format
// version 1.
func (f *File) load() (value fetchadd.Number, v1 bool, err error) {
	var st unix.Stat_t
	if err := fstat(f.fd, &st); err != nil {
		return fetchadd.Number{}, false, f.wrap(err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fetchadd.Number{}, false, f.errorf("not a regular file")
	case st.Size > maxSize:
		return fetchadd.Number{}, false, f.errorf("not a fetchadd state file (%d bytes, too big for one)", st.Size)
	}
	b := make([]byte, st.Size)
	if n, err := pread(f.fd, b, 0); err != nil || n < len(b) {
		return fetchadd.Number{}, false, f.errorf("read %d of %d bytes: %v", n, len(b), err)
	}
	return f.decode(b)
}

// decode reads both slots of the file's bytes b and takes the last
// commit (see pick), as f's.
func (f *File) decode(b []byte) (value fetchadd.Number, v1 bool, err error) {
	if !bytes.HasPrefix(b, []byte(magic)) && (len(b) < 2*pageSize || !bytes.HasPrefix(b[len(b)/2:], []byte(magic))) {
		return fetchadd.Number{}, false, f.errorf("not a fetchadd state file (%d bytes, no FETCHADD header); move it away, or give another -state", len(b))
	}
	size := len(b) / 2
	if len(b) >= sectorSize && (isV1(b) || sealed(b[:sectorSize]) && bytes.HasPrefix(b, []byte(magic))) {
		size = int(binary.BigEndian.Uint32(b[12:]))
	}
	if size < pageSize || size%pageSize != 0 || 2*size != len(b) {
		return fetchadd.Number{}, false, f.errorf("cut short or damaged: %d bytes, want two slots of %d", len(b), size)
	}
	v1 = isV1(b[:size]) || isV1(b[size:])
	read := readSlot
	if v1 {
		read = readSlotV1
	}
	slots := [2]slot{read(b[:size], 0), read(b[size:], 1)}
	for i := range slots {
		if s := &slots[i]; s.whole && s.slotSize != size {
			s.whole, s.problem = false, fmt.Sprintf("commit %d is of slot size %d, in a slot of %d", s.seq, s.slotSize, size)
		}
	}
	i, err := f.pick(slots)
	if err != nil {
		return fetchadd.Number{}, false, err
	}
	f.slotSize, f.seq = size, slots[i].seq
	return slots[i].value, v1, nil
}

// pick says which slot holds the last commit: the newer when both are
// whole; else the whole one, when the other was torn by a crash in the
// middle of the very next commit, which no client was answered for, or
// when all the other shows is older. Anything else may hide a later
// commit that clients saw, and refuses the file (format.go says why).
func (f *File) pick(slots [2]slot) (int, error) {
	if slots[0].whole && slots[1].whole {
		if slots[1].seq > slots[0].seq {
			return 1, nil
		}
		return 0, nil
	}
	for g := range slots {
		good, other := slots[g], slots[1-g]
		if !good.whole {
			continue
		}
		switch {
		case other.torn && other.newest == good.seq+1:
			f.logger.Printf("state: %s: slot %d was torn by a crash in the middle of commit %d, which no client was answered for; using slot %d", f.path, 1-g, other.newest, g)
			return g, nil
		case other.head && other.version <= version && other.newest < good.seq:
			f.logger.Printf("state: %s: slot %d, an older commit, is damaged (%s); using slot %d, the newer", f.path, 1-g, other.problem, g)
			return g, nil
		}
		return -1, f.errorf("damaged: slot %d: %s; the other slot holds %v from commit %d, but the damaged one may hold a later commit that clients saw, so neither is used; the file is left as it is (-state-reset starts over at 0)", 1-g, other.problem, good.value, good.seq)
	}
	for i, s := range slots {
		if s.head && s.version > version {
			return -1, f.errorf("slot %d: %s", i, s.problem)
		}
	}
	return -1, f.errorf("damaged: neither slot holds a good record (slot 0: %s; slot 1: %s); the file is left as it is (-state-reset starts over at 0)", slots[0].problem, slots[1].problem)
}

// replace writes value over the file f holds locked: a new file, renamed
// over it (create). It refuses a file that is not a regular file, or that
// has other names (hard links): they would go on naming the old file,
// whose lock goes when this one is closed, and a server started on one of
// them would hand out its values again.
func (f *File) replace(value fetchadd.Number) error {
	var st unix.Stat_t
	if err := fstat(f.fd, &st); err != nil {
		return err
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return errors.New("not a regular file: left as it is")
	case st.Nlink > 1:
		return fmt.Errorf("the file has %d names (hard links), which would go on naming the old file: remove the others first", st.Nlink)
	}
	target, err := filepath.EvalSymlinks(f.path) // a symbolic link stays one
	if err != nil {
		return err
	}
	return f.create(value, target, true)
}

// create writes a new state file holding value and gives it the name
// target: written and synced under a temporary name in target's
// directory, locked before it has its name, then named target, and the
// directory synced so that the name is on disk too. So a crash never
// leaves a half-made file at target. A new file is named by a rename
// that fails with EEXIST if another server made target meanwhile
// (renameNew); a file f holds locked is replaced by rename. The new file, open and locked,
// becomes f's, its last commit f.seq+1.
func (f *File) create(value fetchadd.Number, target string, replace bool) error {
	digits := value.Append(nil)
	if len(digits) > valueRoom(slotSize) {
		return fmt.Errorf("a counter of %d bytes does not fit in a slot of %d", len(digits), slotSize)
	}
	dir, base := filepath.Split(target)
	fd, tmp, err := createTemp(dir, base)
	if err != nil {
		return err
	}
	named := false // tmp's file has its name: leave it
	fail := func(err error) error {
		unix.Close(fd)
		if !named {
			unlink(tmp)
		}
		return err
	}
	// Both slots hold value, the newer as commit f.seq+1, each in the
	// slot its number says (seq%2), every sector written.
	b := make([]byte, 2*slotSize)
	for seq := f.seq; seq <= f.seq+1; seq++ {
		at := int(seq%2) * slotSize
		record(b[at:at], seq, slotSize, digits, slotSize/sectorSize)
	}
	if err := flock(fd); err != nil {
		return fail(err)
	}
	if _, err := pwrite(fd, b, 0); err != nil {
		return fail(err)
	}
	if err := datasync(fd); err != nil {
		return fail(err)
	}
	name := renameNew
	if replace {
		name = rename
	}
	if err := name(tmp, target); err != nil {
		return fail(err)
	}
	named = true
	if err := syncDir(filepath.Clean(dir)); err != nil {
		return fail(err)
	}
	if how, err := moved(fd, f.abs); err != nil {
		return fail(err)
	} else if how != "" {
		return fail(fmt.Errorf("replaced while it was created: %s", how))
	}
	if f.fd >= 0 {
		unix.Close(f.fd)
	}
	f.fd, f.slotSize, f.seq = fd, slotSize, f.seq+1
	return nil
}

// createTemp makes a new file of a name no other process uses, beside
// base in dir: two servers creating the state file at once never
// touch each other's. A crash leaves it behind, and it may be removed.
func createTemp(dir, base string) (fd int, tmp string, err error) {
	for try := 0; try < maxTries; try++ {
		tmp = filepath.Join(dir, base+".tmp."+strconv.FormatUint(rand.Uint64(), 36))
		if fd, err = open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW); !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	return fd, tmp, err
}
