package fetchadd

import "bytes"

// MaxLine is the longest line the server reads, in bytes, not counting the
// LF. A longer line is answered with one Invalid, and its bytes are dropped
// as they arrive, so a client cannot make the server hold more than this.
const MaxLine = 16384

// keepPartial is the capacity of a partial-line buffer kept for the next
// line; a larger one is given back, so idle connections stay cheap.
const keepPartial = 256

// Framer cuts a byte stream into lines ending at LF. A CR before the LF
// stays in the line: to the parser it is whitespace. The zero value is
// ready to use.
type Framer struct {
	partial []byte // the start of a line whose LF has not come yet
	tooLong bool   // the current line passed MaxLine; dropping to its LF
}

// Feed passes each line that p completes to emit, in order, without its
// LF. tooLong says that the line was longer than MaxLine (line is then
// nil). A line handed to emit is only valid during the call. Bytes after
// the last LF are kept for the next Feed.
//
// emit returns whether to go on. If it says stop, Feed returns at once
// with the number of bytes of p it has used, up to the end of that line;
// the caller passes the rest of p to a later Feed. Otherwise Feed uses all
// of p and returns len(p).
func (f *Framer) Feed(p []byte, emit func(line []byte, tooLong bool) (more bool)) (used int) {
	for used < len(p) {
		i := bytes.IndexByte(p[used:], '\n')
		if i < 0 {
			f.keep(p[used:])
			return len(p)
		}
		line := p[used : used+i]
		used += i + 1
		var more bool
		switch {
		case f.tooLong || len(f.partial)+len(line) > MaxLine:
			more = emit(nil, true)
		case len(f.partial) > 0:
			f.partial = append(f.partial, line...)
			more = emit(f.partial, false)
		default:
			more = emit(line, false) // the common case: the whole line is in p
		}
		f.reset()
		if !more {
			return used
		}
	}
	return used
}

// Flush passes to emit the last line of a stream that ended without an LF,
// if there is one.
func (f *Framer) Flush(emit func(line []byte, tooLong bool) (more bool)) {
	switch {
	case f.tooLong:
		emit(nil, true)
	case len(f.partial) > 0:
		emit(f.partial, false)
	default:
		return
	}
	f.reset()
}

// Pending is how many bytes of an unfinished line the framer holds.
func (f *Framer) Pending() int { return len(f.partial) }

// keep adds p to the unfinished line, or drops it once the line is too long.
func (f *Framer) keep(p []byte) {
	if f.tooLong || len(p) == 0 {
		return
	}
	if len(f.partial)+len(p) > MaxLine {
		f.tooLong = true
		f.partial = nil
		return
	}
	f.partial = append(f.partial, p...)
}

// reset gets ready for the next line. Only a line that spans two Feeds is
// ever copied into partial.
func (f *Framer) reset() {
	f.tooLong = false
	if cap(f.partial) > keepPartial {
		f.partial = nil
	} else {
		f.partial = f.partial[:0]
	}
}
