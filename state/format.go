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
//	28      n     the counter's value in decimal, "-123"
//	28+n    8     seq again
//	36+n    4     CRC-32C of bytes 0 to 36+n
//
// The checksum tells a good record from a bad one. The seq written twice,
// at both ends, tells a torn write (the two ends from different writes)
// from damage to a record written whole (a flipped byte, say), which the
// server refuses rather than fall back to an older value.
const (
	magic       = "FETCHADD"
	version     = 1
	headerSize  = 28
	trailerSize = 12
	// slotSize is the size of a slot: two pages, room for a counter of
	// 8,150 digits. The counter never needs it: an add is at most 4,300
	// digits long, so the counter grows past 4,301 digits by one digit for
	// every tenfold more adds, some 4,320 digits after 10^19 adds.
	slotSize = 8192
	// pageSize is what a slot's size is a multiple of in any file.
	pageSize = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record encodes a slot's record of value with number seq.
func record(dst []byte, seq uint64, slotSize int, value fetchadd.Number) []byte {
	dst = append(dst[:0], magic...)
	dst = binary.BigEndian.AppendUint32(dst, version)
	dst = binary.BigEndian.AppendUint32(dst, uint32(slotSize))
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = append(dst, 0, 0, 0, 0) // n, once the value is written
	dst = value.Append(dst)
	binary.BigEndian.PutUint32(dst[24:], uint32(len(dst)-headerSize))
	dst = binary.BigEndian.AppendUint64(dst, seq)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst, castagnoli))
}

// A slot is what a slot of the file was found to hold.
type slot struct {
	seq      uint64
	value    fetchadd.Number
	slotSize int
	ok       bool   // a good record
	torn     bool   // its ends come from two writes: a write cut short
	problem  string // what is wrong with it, if not ok
}

// readSlot reads the record at the start of b, one slot of the file.
func readSlot(b []byte) slot {
	if len(b) < headerSize+trailerSize {
		return slot{problem: "too short"}
	}
	if string(b[:8]) != magic {
		return slot{problem: "no FETCHADD header"}
	}
	if v := binary.BigEndian.Uint32(b[8:]); v != version {
		return slot{problem: fmt.Sprintf("format version %d, want %d", v, version)}
	}
	s := slot{slotSize: int(binary.BigEndian.Uint32(b[12:])), seq: binary.BigEndian.Uint64(b[16:])}
	n := int(binary.BigEndian.Uint32(b[24:]))
	end := headerSize + n + trailerSize
	if n > len(b)-headerSize-trailerSize {
		s.problem = fmt.Sprintf("value length %d past the end of the slot", n)
		return s
	}
	if binary.BigEndian.Uint64(b[headerSize+n:]) != s.seq {
		s.torn, s.problem = true, "its two ends are of different writes"
		return s
	}
	if crc32.Checksum(b[:end-4], castagnoli) != binary.BigEndian.Uint32(b[end-4:]) {
		s.problem = "checksum mismatch"
		return s
	}
	v, ok := fetchadd.ParseDecimal(b[headerSize : headerSize+n])
	if !ok {
		s.problem = "the value is not a number"
		return s
	}
	s.value, s.ok, s.problem = v, true, ""
	return s
}
