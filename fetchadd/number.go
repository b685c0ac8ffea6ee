// Package fetchadd is the heart of the lab with no I/O in it: the counter,
// Python's int() rules for reading a number, the replies, and the line
// protocol that the servers speak over any byte stream.
package fetchadd

import (
	"math/big"
	"strconv"
)

// Number is an integer of any size, like a Python int. Values that fit in
// an int64 live in small, so the common case costs no allocation; the rest
// live in a big.Int, which is never changed once a Number holds it.
type Number struct {
	small int64
	big   *big.Int // nil exactly when the value fits in an int64
}

// Int returns the Number holding v.
func Int(v int64) Number { return Number{small: v} }

// fromBig returns the Number holding b, moving back to the int64 form when
// the value fits. b must not be changed afterwards.
func fromBig(b *big.Int) Number {
	if b.IsInt64() {
		return Number{small: b.Int64()}
	}
	return Number{big: b}
}

// toBig returns the value as a big.Int, which the caller must not change.
func (n Number) toBig() *big.Int {
	if n.big != nil {
		return n.big
	}
	return big.NewInt(n.small)
}

// IsInt64 reports whether the value fits in an int64.
func (n Number) IsInt64() bool { return n.big == nil }

// Int64 returns the value if it fits in an int64 (see IsInt64).
func (n Number) Int64() int64 { return n.small }

// Cmp compares n and m like big.Int.Cmp: -1, 0 or +1.
func (n Number) Cmp(m Number) int {
	if n.big == nil && m.big == nil {
		switch {
		case n.small < m.small:
			return -1
		case n.small > m.small:
			return 1
		}
		return 0
	}
	return n.toBig().Cmp(m.toBig())
}

// Add returns n+m, exactly.
func (n Number) Add(m Number) Number {
	if n.big == nil && m.big == nil {
		s := n.small + m.small
		// Overflow happened iff both operands have the sign the sum lacks.
		if (n.small^s)&(m.small^s) >= 0 {
			return Number{small: s}
		}
	}
	return fromBig(new(big.Int).Add(n.toBig(), m.toBig()))
}

// Append appends the decimal form of n to dst, in full at any size.
func (n Number) Append(dst []byte) []byte {
	if n.big == nil {
		return strconv.AppendInt(dst, n.small, 10)
	}
	return n.big.Append(dst, 10)
}

// String returns the decimal form of n.
func (n Number) String() string { return string(n.Append(nil)) }

// ParseDecimal reads the decimal form Append writes: an optional '-' and
// digits, any number of them, nothing else. It is for a counter read back
// from storage, which may be longer than MaxDigits.
func ParseDecimal(b []byte) (Number, bool) {
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return Number{}, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return Number{}, false
		}
	}
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return Number{small: v}, true
	}
	n, ok := new(big.Int).SetString(string(b), 10)
	if !ok {
		return Number{}, false
	}
	return fromBig(n), true
}
