package fetchadd

import (
	"math/big"
	"unicode/utf8"
)

// MaxDigits is how many digits Python 3.11's int() reads by default
// (sys.get_int_max_str_digits()); a longer number is an error there, and so
// here. Underscores do not count; leading zeros do.
const MaxDigits = 4300

// ParseBytes reads b the way Python 3.11's int(b) reads a bytes object in
// base 10, as the server's wire carries it: ASCII whitespace
// (space, \t, \n, \v, \f, \r) stripped at both ends, an optional sign, ASCII
// digits with single underscores between digits, at most MaxDigits digits.
// ok is false for anything else. The int64 case allocates nothing.
func ParseBytes(b []byte) (n Number, ok bool) { return parseASCII(b) }

// ParseText reads s the way Python 3.11's int(s) reads a str, as the
// terminal program gets it: like ParseBytes, and also Unicode decimal digits
// of any script (Arabic-Indic "٣" is 3, fullwidth "５" is 5) and the
// non-ASCII whitespace of str.isspace(). Text that is not valid UTF-8 is not
// a number.
func ParseText(s string) (n Number, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return parseASCII(toASCII(s))
		}
	}
	return parseASCII(s)
}

// toASCII does what CPython's _PyUnicode_TransformDecimalAndSpaceToASCII
// does before int() parses text: ASCII stays as it is (so \x1c..\x1f, which
// str.isspace() calls whitespace, are still not whitespace to int()), other
// whitespace becomes a space, a decimal digit becomes its ASCII digit, and
// anything else becomes '?', which no number contains.
func toASCII(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s { // invalid UTF-8 comes out as utf8.RuneError: '?'
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case isNonASCIISpace(r):
			out = append(out, ' ')
		default:
			if d := decimalValue(r); d >= 0 {
				out = append(out, byte('0'+d))
			} else {
				out = append(out, '?')
			}
		}
	}
	return out
}

func isNonASCIISpace(r rune) bool {
	for _, sp := range nonASCIISpaces {
		if r == sp {
			return true
		}
	}
	return false
}

// decimalValue returns the digit r stands for, or -1.
func decimalValue(r rune) int {
	lo, hi := 0, len(decimalZeros)
	for lo < hi { // find the last zero <= r
		mid := (lo + hi) / 2
		if decimalZeros[mid] <= r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > 0 && r-decimalZeros[lo-1] < 10 {
		return int(r - decimalZeros[lo-1])
	}
	return -1
}

// isSpace is Python's Py_ISSPACE: the ASCII whitespace int() strips.
func isSpace(c byte) bool {
	return c == ' ' || ('\t' <= c && c <= '\r')
}

// parseASCII is Python's int() on ASCII text in base 10. It is generic so
// that both a []byte from a socket and a string are read without a copy.
// prefix, below, reads the same grammar a piece at a time, for lines cut
// across reads; the tests hold the two to the same answers.
func parseASCII[T string | []byte](s T) (Number, bool) {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	s = s[i:j]
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 {
		return Number{}, false
	}
	digits := 0
	var u uint64 // the value while it has at most 19 digits, which always fit
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case '0' <= c && c <= '9':
			digits++
			if digits <= 19 {
				u = u*10 + uint64(c-'0')
			}
		case c == '_' && k > 0 && s[k-1] != '_' && k < len(s)-1:
			// one underscore between two digits: 1_000
		default:
			return Number{}, false
		}
	}
	switch {
	case digits > MaxDigits:
		return Number{}, false
	case digits <= 19 && u <= 1<<63-1:
		if neg {
			return Number{small: -int64(u)}, true
		}
		return Number{small: int64(u)}, true
	case digits <= 19 && u == 1<<63 && neg:
		return Number{small: -1 << 63}, true
	}
	return parseBig(s, neg), true
}

// parseBig converts a validated string of digits and underscores.
func parseBig[T string | []byte](s T, neg bool) Number {
	buf := make([]byte, 0, len(s)+1)
	if neg {
		buf = append(buf, '-')
	}
	for k := 0; k < len(s); k++ {
		if s[k] != '_' {
			buf = append(buf, s[k])
		}
	}
	b, ok := new(big.Int).SetString(string(buf), 10)
	if !ok {
		panic("fetchadd: validated digits did not parse: " + string(buf))
	}
	return fromBig(b)
}

// A prefix is the start of a line read by parseASCII's grammar one piece
// at a time, as the pieces come, kept in the least room the rest of the
// line can need: not its bytes but where it stands in the grammar, and its
// digits. Whitespace and underscores leave only their mark on the state,
// and a line that can no longer be a number needs nothing kept at all.
// The zero value is an empty line.
type prefix struct {
	st  scanState
	neg bool // the sign was '-'

	// text is the sign and the digits, from the first digit on: a line
	// that parseASCII reads as it reads the whole line, if that is a
	// number (see line). Its capacity is the caller's to give (see scan).
	text []byte
}

// scanState is where a prefix stands in parseASCII's grammar.
type scanState uint8

const (
	stLead  scanState = iota // whitespace or nothing so far
	stSign                   // a sign, no digit yet
	stDigit                  // the last byte was a digit
	stUnder                  // the last byte was an underscore after a digit
	stTrail                  // the number is over: only whitespace may follow
	stBad                    // not a number, whatever follows
)

// next returns the state after byte c: parseASCII's grammar, a byte at a
// time. The count of digits is checked apart, by scan.
func (st scanState) next(c byte) scanState {
	switch {
	case '0' <= c && c <= '9' && st <= stUnder:
		return stDigit
	case c == '_' && st == stDigit: // one underscore between two digits
		return stUnder
	case isSpace(c) && st == stLead:
		return stLead
	case isSpace(c) && (st == stDigit || st == stTrail):
		return stTrail
	case (c == '+' || c == '-') && st == stLead:
		return stSign
	}
	return stBad
}

// scan reads p, the next bytes of the line. It stops at a digit for which
// text has no room, and returns p from that digit on: the caller gives
// text more capacity and calls scan again with the rest. Otherwise it
// reads all of p and returns nil. text never grows past the sign and
// MaxDigits digits: a digit more makes the line bad.
func (x *prefix) scan(p []byte) (rest []byte) {
	for k := 0; k < len(p) && x.st != stBad; k++ {
		c := p[k]
		st := x.st.next(c)
		switch st {
		case stSign:
			x.neg = c == '-'
		case stDigit:
			switch {
			case len(x.text) == 1+MaxDigits:
				st = stBad // a digit too many
			case !x.addDigit(c):
				return p[k:]
			}
		}
		x.st = st
	}
	return nil
}

// addDigit appends c to text, after the sign if it is the first digit,
// if text has the room.
func (x *prefix) addDigit(c byte) bool {
	need := 1
	if len(x.text) == 0 {
		need = 2
	}
	if len(x.text)+need > cap(x.text) {
		return false
	}
	if len(x.text) == 0 {
		sign := byte('+')
		if x.neg {
			sign = '-'
		}
		x.text = append(x.text, sign)
	}
	x.text = append(x.text, c)
	return true
}

// bad reports whether the line can no longer be a number.
func (x *prefix) bad() bool { return x.st == stBad }

// line returns what ParseBytes must read for the line so far: its sign
// and digits if it is a number, nil if it is not.
func (x *prefix) line() []byte {
	if x.st == stDigit || x.st == stTrail {
		return x.text
	}
	return nil
}
