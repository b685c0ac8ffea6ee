package state

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"fetchadd/fetchadd"
)

// The file is two slots of slotSize bytes each, written in turn: commit
// number seq goes to slot seq%2, so the slot that holds the last commit a
// client may have seen is never the one being written. A crash in the
// middle of a write (a torn write) can damage only the slot being
// written, whose commit no client has seen; the other slot still holds
// the last acknowledged value.
//
// A slot is a row of 512-byte sectors, the unit a disk writes whole or
// not at all. A commit writes a record from the start of its slot: as
// many sectors as its value needs, each carrying the commit's number, its
// own index and its own checksum, so that every sector says which write
// it came from and whether it is intact. Big-endian:
//
//	sector 0
//	offset  size  field
//	0       8     magic "FETCHADD"
//	8       4     format version, 2
//	12      4     slot size, the same in both slots
//	16      8     seq, the commit's number
//	24      4     the sector's index, 0
//	28      4     n, the length of the value
//	32      4     CRC-32C of the whole value (its n bytes)
//	36      472   the value in decimal ("-123"), or its first 472 bytes; zeros after it
//	508     4     CRC-32C of bytes 0 to 508: the sector's own checksum
//
//	sector k, from 1 to the record's last
//	0       8     seq
//	8       4     k
//	12      496   the value's next 496 bytes; zeros after its end
//	508     4     CRC-32C of bytes 0 to 508
//
// A new file's slots are written whole: the sectors past a record carry
// its seq and index with no value bytes, so that every sector of the file
// passes its checksum until something damages it. (A commit writes only
// its record's sectors.)
//
// Reading a slot (readSlot), sector 0 gives n and so the record's
// sectors. Then:
//
//   - every sector passes its checksum, holds its own index and the same
//     seq, and the value's CRC holds: the slot is whole;
//   - a sector fails its own checksum, or holds another index, or a seq
//     of the other slot's parity: the slot is damaged. A crash cannot do
//     that (it leaves each sector old or new, whole), so damage is never
//     taken for a tear;
//   - every sector passes its checksum but they hold different seqs, or
//     the same seq and the value's CRC fails (a failed commit's bytes,
//     then its retry's, under the same seq): the slot is torn, by a crash
//     in the middle of the write of its highest seq.
//
// The file is read (load, in open.go) as the newer whole slot when both
// are whole. One whole slot is used alone only when the other is torn by
// the very next commit (its highest seq is the whole one's plus 1: a
// commit no client was answered for, since a commit that was acknowledged
// had all its sectors on disk), or when every seq the other shows,
// sector 0's included, is older than the whole one's (sector 0 is written
// by every commit, so it is never older than the slot's last
// acknowledged commit). Anything else is refused rather than fall back to
// an older value, which could hand out values again.
//
// Version 1 files (format_v1.go) are read, and rewritten in this version
// when the server opens them.
const (
	magic   = "FETCHADD"
	version = 2
	// slotSize is the size of a slot: two pages, room for a counter of
	// 7,912 digits (valueRoom). The counter never needs it: an add is at
	// most 4,300 digits long, so the counter grows past 4,301 digits by
	// one digit for every tenfold more adds, some 4,320 digits after
	// 10^19 adds.
	slotSize = 8192
	// pageSize is what a slot's size is a multiple of in any file.
	pageSize = 4096
	// sectorSize is the unit a disk writes whole or not at all, at the
	// least.
	sectorSize = 512
	// firstHead and head are the bytes before the value in sector 0 and
	// in the others; the last 4 of every sector are its checksum.
	firstHead = 36
	head      = 12
	firstRoom = sectorSize - firstHead - 4
	room      = sectorSize - head - 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sectorsFor is how many sectors a record of a value of n bytes takes.
func sectorsFor(n int) int {
	if n <= firstRoom {
		return 1
	}
	return 1 + (n-firstRoom+room-1)/room
}

// valueRoom is how long a value a slot of size bytes can hold.
func valueRoom(size int) int { return firstRoom + (size/sectorSize-1)*room }

// record encodes the record of value (its decimal digits) with number
// seq, in at least sectors sectors.
func record(dst []byte, seq uint64, slotSize int, value []byte, sectors int) []byte {
	size := max(sectors, sectorsFor(len(value))) * sectorSize
	dst = slices.Grow(dst[:0], size)[:size]
	clear(dst)
	s := dst[:sectorSize]
	copy(s, magic)
	binary.BigEndian.PutUint32(s[8:], version)
	binary.BigEndian.PutUint32(s[12:], uint32(slotSize))
	binary.BigEndian.PutUint64(s[16:], seq)
	binary.BigEndian.PutUint32(s[28:], uint32(len(value)))
	binary.BigEndian.PutUint32(s[32:], crc32.Checksum(value, castagnoli))
	rest := value[copy(s[firstHead:sectorSize-4], value):]
	seal(s)
	for k := 1; k < size/sectorSize; k++ {
		s := dst[k*sectorSize : (k+1)*sectorSize]
		binary.BigEndian.PutUint64(s, seq)
		binary.BigEndian.PutUint32(s[8:], uint32(k))
		rest = rest[copy(s[head:sectorSize-4], rest):]
		seal(s)
	}
	return dst
}

// seal writes sector s's checksum.
func seal(s []byte) {
	binary.BigEndian.PutUint32(s[sectorSize-4:], crc32.Checksum(s[:sectorSize-4], castagnoli))
}

// sealed says whether sector s passes its checksum.
func sealed(s []byte) bool {
	return crc32.Checksum(s[:sectorSize-4], castagnoli) == binary.BigEndian.Uint32(s[sectorSize-4:])
}

// A slot is what a slot of the file was found to hold.
type slot struct {
	head     bool // sector 0 is good: seq, slotSize and version are the writer's
	version  uint32
	seq      uint64 // sector 0's
	slotSize int
	newest   uint64 // the highest seq of the sectors read, sector 0's included
	whole    bool   // the record is good: value is the counter
	torn     bool   // every sector is good, of more than one write
	value    fetchadd.Number
	problem  string // what is wrong with it, if not whole
}

// readSlot reads the record at the start of b, slot i of the file (see
// the layout above).
func readSlot(b []byte, i int) slot {
	s0 := b[:sectorSize]
	switch {
	case !sealed(s0):
		return slot{problem: "sector 0 fails its checksum"}
	case string(s0[:8]) != magic:
		return slot{problem: "sector 0 holds no FETCHADD header"}
	}
	s := slot{head: true, version: binary.BigEndian.Uint32(s0[8:]), slotSize: int(binary.BigEndian.Uint32(s0[12:])), seq: binary.BigEndian.Uint64(s0[16:])}
	s.newest = s.seq
	n := int(binary.BigEndian.Uint32(s0[28:]))
	switch {
	case s.version != version:
		s.problem = fmt.Sprintf("written in format version %d by a newer fetchadd (this one reads versions 1 and %d)", s.version, version)
		return s
	case binary.BigEndian.Uint32(s0[24:]) != 0:
		s.problem = fmt.Sprintf("sector 0 holds sector %d", binary.BigEndian.Uint32(s0[24:]))
		return s
	case s.seq%2 != uint64(i):
		s.problem = fmt.Sprintf("sector 0 holds commit %d, which belongs in the other slot", s.seq)
		return s
	case n > valueRoom(len(b)):
		s.problem = fmt.Sprintf("value length %d past the end of the slot", n)
		return s
	}
	value := append(make([]byte, 0, n), s0[firstHead:firstHead+min(n, firstRoom)]...)
	mixed := false
	for k := 1; k < sectorsFor(n); k++ {
		sec := b[k*sectorSize : (k+1)*sectorSize]
		seq, at := binary.BigEndian.Uint64(sec), binary.BigEndian.Uint32(sec[8:])
		switch {
		case !sealed(sec):
			s.problem = fmt.Sprintf("sector %d fails its checksum", k)
			return s
		case at != uint32(k):
			s.problem = fmt.Sprintf("sector %d holds sector %d", k, at)
			return s
		case seq%2 != uint64(i):
			s.problem = fmt.Sprintf("sector %d holds commit %d, which belongs in the other slot", k, seq)
			return s
		}
		s.newest = max(s.newest, seq)
		mixed = mixed || seq != s.seq
		value = append(value, sec[head:head+min(n-len(value), room)]...)
	}
	switch {
	case mixed:
		s.torn, s.problem = true, fmt.Sprintf("its sectors are of more than one commit (sector 0: %d, the newest: %d): torn", s.seq, s.newest)
		return s
	case crc32.Checksum(value, castagnoli) != binary.BigEndian.Uint32(s0[32:]):
		s.torn, s.problem = true, fmt.Sprintf("its sectors are of commit %d, but the value's checksum fails: two writes of that commit, torn", s.seq)
		return s
	}
	v, ok := fetchadd.ParseDecimal(value)
	if !ok {
		s.problem = "the value is not a number"
		return s
	}
	s.value, s.whole, s.problem = v, true, ""
	return s
}
