package state

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"fetchadd/fetchadd"
)

// Format version 1, which fetchadd wrote before version 2 (format.go),
// is read, and the server rewrites the file in version 2 when it opens
// it (Open). Its slots are those of version 2; each holds one record,
// big-endian:
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
// A record longer than a sector whose end is of another write is either
// torn by a crash or damaged (a flipped bit in the seq at its end):
// version 1 cannot tell which, so such a file is refused when that slot
// would be the newer one (the server that wrote it took it for a tear).
const v1HeaderSize, v1TrailerSize = 32, 12

// isV1 says whether slot b starts with a good version 1 header.
func isV1(b []byte) bool {
	return string(b[:8]) == magic && binary.BigEndian.Uint32(b[8:]) == 1 &&
		crc32.Checksum(b[:28], castagnoli) == binary.BigEndian.Uint32(b[28:])
}

// readSlotV1 reads the version 1 record at the start of b, slot i.
func readSlotV1(b []byte, i int) slot {
	if !isV1(b) {
		return slot{problem: "no good format version 1 header"}
	}
	s := slot{head: true, version: 1, slotSize: int(binary.BigEndian.Uint32(b[12:])), seq: binary.BigEndian.Uint64(b[16:])}
	s.newest = s.seq
	n := int(binary.BigEndian.Uint32(b[24:]))
	if n > len(b)-v1HeaderSize-v1TrailerSize {
		s.problem = fmt.Sprintf("value length %d past the end of the slot", n)
		return s
	}
	end := v1HeaderSize + n + v1TrailerSize
	if binary.BigEndian.Uint64(b[v1HeaderSize+n:]) != s.seq && end > sectorSize {
		s.problem = fmt.Sprintf("commit %d's record ends with another commit's number: torn by a crash, or damaged (format version 1 cannot tell which)", s.seq)
		return s
	}
	if crc32.Checksum(b[:end-4], castagnoli) != binary.BigEndian.Uint32(b[end-4:]) {
		s.problem = "checksum mismatch"
		return s
	}
	v, ok := fetchadd.ParseDecimal(b[v1HeaderSize : v1HeaderSize+n])
	switch {
	case !ok:
		s.problem = "the value is not a number"
	case s.seq%2 != uint64(i):
		s.problem = fmt.Sprintf("commit %d belongs in the other slot", s.seq)
	default:
		s.value, s.whole = v, true
	}
	return s
}
