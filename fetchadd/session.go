package fetchadd

// Session is the server's side of one connection: bytes in, replies out.
// Each complete line is answered, in order, with "  --> OLD\r\n", or
// "!!!!\r\n" if it is not a number, or Busy and CRLF if the server would
// not hold it (see Budget). It does no I/O, so every server mode shares
// it.
type Session struct {
	counter *Counter
	framer  Framer
	out     []byte // replies being built by Answer
	limit   int    // Answer stops once out is this long
}

// NewSession starts a session whose lines add to c, and whose unfinished
// lines are held within b (nil: no limit). Call Close when the
// connection ends.
func NewSession(c *Counter, b *Budget) *Session {
	return &Session{counter: c, framer: Framer{budget: b}}
}

// Close gives back to the budget all that the session holds, and forgets
// an unfinished line. Closing twice does no harm.
func (s *Session) Close() { s.framer.reset() }

// Answer appends to out the replies to the lines that in completes, and
// returns the extended slice and how many bytes of in it used. Bytes of an
// unfinished line are kept (and count as used).
//
// Answer stops after the line whose reply takes out to limit bytes or
// more; the caller sends the replies and passes in[used:] again. A line of
// two bytes may get a reply of thousands (the counter can have 4300
// digits and more), so this is what bounds a server's output buffer.
func (s *Session) Answer(out, in []byte, limit int) (_ []byte, used int) {
	s.out, s.limit = out, limit
	s.counter.mu.Lock() // once for all the lines: they are added together
	used = s.framer.Feed(in, s.answerLine)
	s.counter.mu.Unlock()
	out, s.out = s.out, nil
	return out, used
}

// Finish appends the reply to a last line that came without an LF before
// the end of the stream, if there was one, and gives back what it held.
func (s *Session) Finish(out []byte) []byte {
	s.out, s.limit = out, 0
	s.counter.mu.Lock()
	s.framer.Flush(s.answerLine)
	s.counter.mu.Unlock()
	out, s.out = s.out, nil
	return out
}

func (s *Session) answerLine(line []byte, busy bool) (more bool) {
	if busy {
		s.out = append(s.out, Busy...)
	} else if n, ok := ParseBytes(line); ok {
		s.out = AppendResult(s.out, s.counter.addLocked(n))
	} else {
		s.out = append(s.out, Invalid...)
	}
	s.out = append(s.out, CRLF...)
	return len(s.out) < s.limit
}
