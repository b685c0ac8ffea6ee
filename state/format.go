package state

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"fetchadd/fetchadd"
)

// The file is two slots of slotSize bytes each, written in turn: commit
// number seq goes to slot seq%2, so the slot that holds the last commit a
// client may have seen is never the one being written. A crash in the
// middle of a write (a torn write) can damage only the slot being
// written, whose commit no client has seen; the other slot still holds
// the last acknowledged value.
//
// A slot holds one record, big-endian:
//
//	offset  size  field
//	0       8     magic "FETCHADD"
//	8       4     format version, 1
//	12      4     slot size, the same in both slots
//	16      8     seq, the commit's number
//	24      4     n, the length of the value
//	28      4     CRC-32C of bytes 0 to 28: the header's own checksum
//	32      n     the counter's value in decimal, "-123"
//	32+n    8     seq again
//	40+n    4     CRC-32C of bytes 0 to 40+n
//
// The header is 32 bytes at the start of a page-aligned slot: it lies in
// one disk sector, which a crash writes whole or not at all, so a header
// whose checksum fails was damaged, not torn. A record longer than a
// sector whose header is good but whose end is of another write (the seq
// at the end differs), and whose commit is the one after the other
// slot's, was cut short by a crash while it was written. A record within
// one sector cannot be torn. (A flipped bit in the end's seq of a record
// longer than a sector looks like a tear: the one case the layout cannot
// tell.) Anything else that fails a checksum is damage, which the server refuses
// rather than fall back to an older value, which could hand out values
// again. (load, in open.go, decides.)
const (
	magic       = "FETCHADD"
	version     = 1
	headerSize  = 32
	trailerSize = 12
	// slotSize is the size of a slot: two pages, room for a counter of
	// 8,150 digits. The counter never needs it: an add is at most 4,300
	// digits long, so the counter grows past 4,301 digits by one digit for
	// every tenfold more adds, some 4,320 digits after 10^19 adds.
	slotSize = 8192
	// pageSize is what a slot's size is a multiple of in any file.
	pageSize = 4096
	// sectorSize is the unit a disk writes whole or not at all, at the
	// least: a record that fits in one cannot be torn.
	sectorSize = 512
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record encodes a slot's record of value with number seq.
func record(dst []byte, seq uint64, slotSize int, value fetchadd.Number) []byte {
	dst = append(dst[:0], magic...)
	dst = binary.BigEndian.AppendUint32(dst, version)
	dst = binary.BigEndian.AppendUint32(dst, uint32(slotSize))
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // n and the header's checksum, once the value is written
	dst = value.Append(dst)
	binary.BigEndian.PutUint32(dst[24:], uint32(len(dst)-headerSize))
	binary.BigEndian.PutUint32(dst[28:], crc32.Checksum(dst[:28], castagnoli))
	dst = binary.BigEndian.AppendUint64(dst, seq)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst, castagnoli))
}

// A slot is what a slot of the file was found to hold.
type slot struct {
	header   bool // the header is good: seq and slotSize are the writer's
	seq      uint64
	slotSize int
	ends     bool // the seq at the end is the header's
	size     int  // the record's size, from the header
	ok       bool // the whole record is good: value is the counter
	value    fetchadd.Number
	problem  string // what is wrong with it, if not ok
}

// readSlot reads the record at the start of b, one slot of the file.
func readSlot(b []byte) slot {
	switch {
	case len(b) < headerSize+trailerSize:
		return slot{problem: "cut short"}
	case string(b[:8]) != magic:
		return slot{problem: "no FETCHADD header"}
	case crc32.Checksum(b[:28], castagnoli) != binary.BigEndian.Uint32(b[28:]):
		return slot{problem: "the header's checksum fails"}
	}
	s := slot{header: true, slotSize: int(binary.BigEndian.Uint32(b[12:])), seq: binary.BigEndian.Uint64(b[16:])}
	if v := binary.BigEndian.Uint32(b[8:]); v != version {
		s.problem = fmt.Sprintf("written in format version %d by a newer fetchadd (this one reads version %d)", v, version)
		return s
	}
	n := int(binary.BigEndian.Uint32(b[24:]))
	if n > len(b)-headerSize-trailerSize {
		s.problem = fmt.Sprintf("value length %d past the end of the slot", n)
		return s
	}
	end := headerSize + n + trailerSize
	s.size = end
	s.ends = binary.BigEndian.Uint64(b[headerSize+n:]) == s.seq
	if crc32.Checksum(b[:end-4], castagnoli) != binary.BigEndian.Uint32(b[end-4:]) {
		s.problem = "checksum mismatch"
		return s
	}
	v, ok := fetchadd.ParseDecimal(b[headerSize : headerSize+n])
	if !ok {
		s.problem = "the value is not a number"
		return s
	}
	s.value, s.ok, s.problem = v, s.ends, ""
	return s
}
