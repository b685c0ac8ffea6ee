package fetchadd

import "bytes"

// MaxLine is the longest line the server reads, in bytes, not counting the
// LF. A longer line is not a number, however it goes on: it is answered
// with one Invalid.
const MaxLine = 16384

// Framer cuts a byte stream into lines ending at LF, for ParseBytes. A CR
// before the LF stays in the line: to the parser it is whitespace. The
// zero value is ready to use.
//
// A line that comes whole in one Feed is passed on as it is, without a
// copy. Of a line whose LF has not come, the framer keeps only what
// ParseBytes will need of it (see prefix): its sign and digits, never more
// than MaxDigits+1 bytes, and nothing once it cannot be a number.
type Framer struct {
	start   prefix  // what is kept of a line whose LF has not come
	n       int     // that line's length so far, for MaxLine
	held    int     // the bytes of start's room counted in budget
	refused bool    // budget refused to hold the line: dropping to its LF
	budget  *Budget // nil: no limit
}

// Feed passes each line that p completes to emit, in order, without its
// LF. line is the line itself if it came whole in p. If it began in an
// earlier Feed, it is what ParseBytes must read for it: its sign and
// digits, or nil if it cannot be a number. A line longer than MaxLine is
// nil. busy says that the line was refused for want of budget. A line
// handed to emit is only valid during the call. Bytes after the last LF
// are kept, as far as they matter, for the next Feed.
//
// emit returns whether to go on. If it says stop, Feed returns at once
// with the number of bytes of p it has used, up to the end of that line;
// the caller passes the rest of p to a later Feed. Otherwise Feed uses all
// of p and returns len(p).
func (f *Framer) Feed(p []byte, emit func(line []byte, busy bool) (more bool)) (used int) {
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
		case f.n > 0:
			more = f.finish(line, emit)
		case len(line) > MaxLine:
			more = emit(nil, false)
		default:
			more = emit(line, false) // the common case: the whole line is in p
		}
		if !more {
			return used
		}
	}
	return used
}

// Flush passes to emit the last line of a stream that ended without an LF,
// if there is one.
func (f *Framer) Flush(emit func(line []byte, busy bool) (more bool)) {
	if f.n > 0 {
		f.finish(nil, emit)
	}
}

// keep reads p, the start of a line or more of it, into f.start.
func (f *Framer) keep(p []byte) {
	f.n += len(p)
	if f.n > MaxLine {
		f.start.st = stBad
	}
	for !f.refused && !f.start.bad() {
		if p = f.start.scan(p); len(p) == 0 {
			break
		}
		f.refused = !f.grow(p, true)
	}
	if f.refused || f.start.bad() {
		f.drop() // nothing of this line matters any more
	}
}

// finish reads last, the end of the kept line, and passes the line to
// emit. The line's digits may need more room here, but only for this
// call, so it is not counted.
func (f *Framer) finish(last []byte, emit func(line []byte, busy bool) (more bool)) (more bool) {
	f.n += len(last)
	if f.n > MaxLine {
		f.start.st = stBad
	}
	if !f.refused {
		for last = f.start.scan(last); len(last) > 0; last = f.start.scan(last) {
			f.grow(last, false)
		}
	}
	more = emit(f.start.line(), f.refused)
	f.reset()
	return more
}

// grow gives the line's digits more room for rest, the bytes scan has yet
// to read: room for the digits at its start in one allocation (no garbage
// of rooms outgrown on the way), at least lineFloor bytes and twice the
// old room, up to the sign and MaxDigits. If charge, the room is counted
// in the budget first, which may refuse it once the line holds lineFloor
// bytes.
func (f *Framer) grow(rest []byte, charge bool) (ok bool) {
	old := cap(f.start.text)
	need := 1 + len(f.start.text) + digitsAhead(rest) // 1: the sign, if text is empty
	size := min(max(need, 2*old, lineFloor), 1+MaxDigits)
	if size == old { // scan never asks for room past MaxDigits: refuse rather than loop
		return false
	}
	if charge {
		if !f.budget.take(f.held, size-old) {
			return false
		}
		f.held += size - old
	}
	f.start.text = append(make([]byte, 0, size), f.start.text...)
	return true
}

// drop gives back the room of the line's digits.
func (f *Framer) drop() {
	f.budget.give(f.held)
	f.held = 0
	f.start.text = nil
}

// reset gives back all that is held and gets ready for the next line.
func (f *Framer) reset() {
	f.drop()
	*f = Framer{budget: f.budget}
}

// digitsAhead counts the digits at the start of p, up to the first byte
// that is neither a digit nor an underscore.
func digitsAhead(p []byte) int {
	n := 0
	for _, c := range p {
		switch {
		case '0' <= c && c <= '9':
			n++
		case c != '_':
			return n
		}
	}
	return n
}
