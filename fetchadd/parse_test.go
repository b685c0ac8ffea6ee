package fetchadd

import (
	"math/big"
	"strings"
	"testing"
)

// parseCases were checked against Python 3.11's int(): want is the value
// int() returns, or "" where it raises ValueError. bytesToo says int(b)
// on the UTF-8 bytes gives the same (false where only text is a number).
var parseCases = []struct {
	in       string
	want     string
	bytesToo bool
}{
	{"0", "0", true},
	{"5", "5", true},
	{"-7", "-7", true},
	{"+5", "5", true},
	{"-0", "0", true},
	{"007", "7", true},
	{"0_0", "0", true},
	{"1_000", "1000", true},
	{"1_2_3", "123", true},
	{" 12 ", "12", true},
	{"\t\n\v\f\r 3 \r\n\f\v\t", "3", true},
	{"1\r", "1", true},
	{"", "", true},
	{" ", "", true},
	{"+", "", true},
	{"-", "", true},
	{"--1", "", true},
	{"+-1", "", true},
	{"- 1", "", true},
	{"1 2", "", true},
	{"1__0", "", true},
	{"_1", "", true},
	{"1_", "", true},
	{"+_1", "", true},
	{"1.0", "", true},
	{"1e3", "", true},
	{"0x10", "", true},
	{"0b1", "", true},
	{"1,000", "", true},
	{"abc", "", true},
	{"1\x00", "", true},
	{"\x00", "", true},
	{"\x1c1", "", true}, // whitespace to str.isspace(), not to int()
	{"1\x1f", "", true},
	{"\x7f", "", true},
	{"9223372036854775807", "9223372036854775807", true},
	{"-9223372036854775808", "-9223372036854775808", true},
	{"9223372036854775808", "9223372036854775808", true},
	{"-9223372036854775809", "-9223372036854775809", true},
	{"18446744073709551615", "18446744073709551615", true},
	{"18446744073709551616", "18446744073709551616", true},
	{"99999999999999999999", "99999999999999999999", true},
	{"0000000000000000000000000001", "1", true},
	{"-0000000000000000000000000000", "0", true},
	{"1_0000000000_0000000000", "100000000000000000000", true},
	// Text only: Unicode digits and spaces, which int(bytes) refuses.
	{"٣", "3", false},
	{"٣٤", "34", false},
	{"５", "5", false},
	{"٣5", "35", false},
	{"-٣_٣", "-33", false},
	{"\u0966\u0967", "1", false},
	{"\U0001D7CE\U0001D7D9", "1", false},
	{"\U0001FBF1", "1", false},
	{"\u00a07\u00a0", "7", false},
	{"\u30008", "8", false},
	{"\u00859", "9", false},
	{"\u2028 1\u2029", "1", false},
	{"٣__٣", "", true},
	{"\u180e1", "", true},      // not whitespace since Unicode 6.3
	{"\u200b1", "", true},      // zero width space: not whitespace
	{"\ufeff1", "", true},      // byte order mark
	{"¹", "", true},            // superscript: a digit, not a decimal
	{"½", "", true},            // numeric, not a decimal digit
	{"\u1369", "", true},       // Ethiopic digit one: no zero, not decimal
	{"\U00011F51", "", true},   // Kawi digit: Unicode 15, newer than Python 3.11's
	{"\U0001E4F1", "", true},   // Nag Mundari digit: Unicode 15 too
	{"1\x1c", "", true},        // ASCII stays ASCII
	{"\ufffd", "", true},       // the replacement character itself
	{"1\xff", "", true},        // not UTF-8
	{"\xed\xa0\x80", "", true}, // an encoded surrogate: not UTF-8
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		n, ok := ParseText(tc.in)
		check(t, "ParseText", tc.in, n, ok, tc.want)
		if tc.bytesToo {
			n, ok = ParseBytes([]byte(tc.in))
			check(t, "ParseBytes", tc.in, n, ok, tc.want)
		} else if _, ok := ParseBytes([]byte(tc.in)); ok {
			t.Errorf("ParseBytes(%q) = ok, want invalid: the wire is ASCII", tc.in)
		}
	}
}

func check(t *testing.T, fn, in string, n Number, ok bool, want string) {
	t.Helper()
	switch {
	case want == "" && ok:
		t.Errorf("%s(%q) = %v, want invalid", fn, in, n)
	case want != "" && !ok:
		t.Errorf("%s(%q) invalid, want %s", fn, in, want)
	case ok && n.String() != want:
		t.Errorf("%s(%q) = %v, want %s", fn, in, n, want)
	case ok && n.IsInt64() != fitsInt64(want):
		t.Errorf("%s(%q): IsInt64() = %v: the int64 form must be used exactly when the value fits", fn, in, n.IsInt64())
	}
}

func fitsInt64(s string) bool {
	b, _ := new(big.Int).SetString(s, 10)
	return b.IsInt64()
}

// TestMaxDigits: Python 3.11 reads at most 4300 digits; underscores do not
// count and leading zeros do.
func TestMaxDigits(t *testing.T) {
	ones := strings.Repeat("1", MaxDigits)
	cases := []struct {
		in string
		ok bool
	}{
		{ones, true},
		{"-" + ones, true},
		{" +" + ones + " ", true},
		{strings.Repeat("1_", MaxDigits-1) + "1", true},
		{ones + "1", false},
		{"0" + ones, false},
		{strings.Repeat("0", MaxDigits), true},
		{strings.Repeat("0", MaxDigits+1), false},
		{strings.Repeat("1_", MaxDigits) + "1", false},
	}
	for _, tc := range cases {
		n, ok := ParseBytes([]byte(tc.in))
		if ok != tc.ok {
			t.Errorf("ParseBytes(%d bytes) ok = %v, want %v", len(tc.in), ok, tc.ok)
			continue
		}
		if ok {
			want, _ := new(big.Int).SetString(strings.NewReplacer("_", "", " ", "", "+", "").Replace(tc.in), 10)
			if n.toBig().Cmp(want) != 0 {
				t.Errorf("ParseBytes(%d bytes) = wrong value", len(tc.in))
			}
		}
	}
}

func TestUnicodeTables(t *testing.T) {
	if unicodeVersion != "14.0.0" {
		t.Errorf("tables from Unicode %s; Python 3.11 uses 14.0.0", unicodeVersion)
	}
	for i := 1; i < len(decimalZeros); i++ {
		if decimalZeros[i]-decimalZeros[i-1] < 10 {
			t.Fatalf("decimalZeros not sorted in runs of ten at %#x", decimalZeros[i])
		}
	}
	for d := rune(0); d < 10; d++ {
		for _, z := range decimalZeros {
			if got := decimalValue(z + d); got != int(d) {
				t.Fatalf("decimalValue(%#x) = %d, want %d", z+d, got, d)
			}
		}
	}
	for _, r := range []rune{'/', ':', 0x065F, 0x066A, 0xFF1A, 0x1FBFA, 0x10FFFF} {
		if got := decimalValue(r); got != -1 {
			t.Errorf("decimalValue(%#x) = %d, want -1", r, got)
		}
	}
}
