package bench

import "testing"

func TestProtocolReplies(t *testing.T) {
	cases := []struct {
		p    *Protocol
		line string
		want int64
		ok   bool
	}{
		{FetchAdd, "  --> 41\r\n", 41, true},
		{FetchAdd, "  --> -7\r\n", -7, true},
		{FetchAdd, "!!!!\r\n", 0, false},
		{Redis, ":42\r\n", 41, true},
		{Redis, "-ERR value is not an integer\r\n", 0, false},
		{Memcache, "42\r\n", 41, true},
		{Memcache, "NOT_FOUND\r\n", 0, false},
	}
	for _, tc := range cases {
		got, ok := tc.p.Reply([]byte(tc.line), 1)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s reply %q = %d, %v; want %d, %v", tc.p.Name(), tc.line, got, ok, tc.want, tc.ok)
		}
	}
}
