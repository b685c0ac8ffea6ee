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
