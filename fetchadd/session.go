package fetchadd

// Session is the server's side of one connection: bytes in, replies out.
// Each complete line is answered, in order, with "  --> OLD\r\n" or
// "!!!!\r\n". It does no I/O, so every server mode shares it.
type Session struct {
	counter *Counter
	framer  Framer
	out     []byte // replies being built by Answer
}

// NewSession starts a session whose lines add to c.
func NewSession(c *Counter) *Session { return &Session{counter: c} }

// Answer appends to out the replies to every line that in completes, and
// returns the extended slice. Bytes of an unfinished line are kept.
func (s *Session) Answer(out, in []byte) []byte {
	s.out = out
	s.framer.Feed(in, s.answerLine)
	out, s.out = s.out, nil
	return out
}

// Finish appends the reply to a last line that came without an LF before
// the end of the stream, if there was one.
func (s *Session) Finish(out []byte) []byte {
	s.out = out
	s.framer.Flush(s.answerLine)
	out, s.out = s.out, nil
	return out
}

// Pending is how many bytes of an unfinished line the session holds.
func (s *Session) Pending() int { return s.framer.Pending() }

func (s *Session) answerLine(line []byte, tooLong bool) {
	if tooLong {
		s.out = append(s.out, Invalid...)
	} else {
		s.out = AppendAnswer(s.out, s.counter, line)
	}
	s.out = append(s.out, CRLF...)
}
