package fetchadd

import (
	"math/big"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// pythonInt is Python's int() grammar for base 10, written as a regular
// expression: an independent statement of what ParseBytes accepts.
var pythonInt = regexp.MustCompile(`^[ \t\n\v\f\r]*[+-]?[0-9](_?[0-9])*[ \t\n\v\f\r]*$`)

func FuzzParseBytes(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(strings.Repeat("9", MaxDigits)))
	f.Fuzz(func(t *testing.T, in []byte) {
		n, ok := ParseBytes(in)
		digits := 0
		for _, c := range in {
			if '0' <= c && c <= '9' {
				digits++
			}
		}
		valid := pythonInt.Match(in) && digits <= MaxDigits
		if ok != valid {
			t.Fatalf("ParseBytes(%q) ok = %v, the grammar says %v", in, ok, valid)
		}
		if !ok {
			return
		}
		clean := strings.Map(func(r rune) rune {
			if r == '_' || r == '+' || strings.ContainsRune(" \t\n\v\f\r", r) {
				return -1
			}
			return r
		}, string(in))
		want, _ := new(big.Int).SetString(clean, 10)
		if n.toBig().Cmp(want) != 0 || n.IsInt64() != want.IsInt64() {
			t.Fatalf("ParseBytes(%q) = %v, math/big says %v", in, n, want)
		}
		if n.String() != want.String() {
			t.Fatalf("%v prints as %s, math/big prints %s", want, n, want)
		}
	})
}

func FuzzParseText(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, ok := ParseText(in)
		ascii := true
		for i := 0; i < len(in); i++ {
			ascii = ascii && in[i] < utf8.RuneSelf
		}
		if ascii {
			if m, okb := ParseBytes([]byte(in)); okb != ok || (ok && m.Cmp(n) != 0) {
				t.Fatalf("ASCII %q: text gives %v,%v; bytes give %v,%v", in, n, ok, m, okb)
			}
		}
		if !utf8.ValidString(in) && ok {
			t.Fatalf("ParseText(%q): invalid UTF-8 accepted", in)
		}
	})
}
