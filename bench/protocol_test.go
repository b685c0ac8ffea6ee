package bench

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

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

// TestRedisRESP: redis-resp sends the inline INCRBY's words as a RESP
// array of bulk strings (the same command: redis's work differs only in
// reading it), any n's length counted right, and reads the same replies.
func TestRedisRESP(t *testing.T) {
	cases := []struct {
		n    int
		want string
	}{
		{1, "*3\r\n$6\r\nINCRBY\r\n$14\r\nfetchadd:bench\r\n$1\r\n1\r\n"},
		{0, "*3\r\n$6\r\nINCRBY\r\n$14\r\nfetchadd:bench\r\n$1\r\n0\r\n"},
		{-12345, "*3\r\n$6\r\nINCRBY\r\n$14\r\nfetchadd:bench\r\n$6\r\n-12345\r\n"},
		{1234567890, "*3\r\n$6\r\nINCRBY\r\n$14\r\nfetchadd:bench\r\n$10\r\n1234567890\r\n"},
	}
	for _, tc := range cases {
		if got := string(RedisRESP.Add(tc.n)); got != tc.want {
			t.Errorf("RESP Add(%d) = %q, want %q", tc.n, got, tc.want)
		}
		// The inline form is unchanged, and holds the same words.
		if got, want := string(Redis.Add(tc.n)), fmt.Sprintf("INCRBY fetchadd:bench %d\r\n", tc.n); got != want {
			t.Errorf("inline Add(%d) = %q, want %q", tc.n, got, want)
		}
		if got, want := respWords(t, RedisRESP.Add(tc.n)), strings.Fields(string(Redis.Add(tc.n))); !slices.Equal(got, want) {
			t.Errorf("RESP Add(%d) holds %q, inline %q", tc.n, got, want)
		}
	}
	if v, ok := RedisRESP.Reply([]byte(":42\r\n"), 1); !ok || v != 41 {
		t.Errorf("RESP reply :42 = %d, %v; want 41, true", v, ok)
	}
	if _, ok := RedisRESP.Reply([]byte("-ERR wrong number of arguments\r\n"), 1); ok {
		t.Errorf("RESP error reply read as a number")
	}
	if Protocols["redis-resp"] != RedisRESP || Protocols["redis"] != Redis {
		t.Errorf("Protocols: redis-resp %p, redis %p", Protocols["redis-resp"], Protocols["redis"])
	}
}

// respWords decodes one RESP array of bulk strings, all of it.
func respWords(t *testing.T, b []byte) []string {
	t.Helper()
	line := func() string {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			t.Fatalf("no CRLF in %q", b)
		}
		l := string(b[:i])
		b = b[i+2:]
		return l
	}
	head := line()
	n, err := strconv.Atoi(strings.TrimPrefix(head, "*"))
	if err != nil || head[0] != '*' {
		t.Fatalf("array header %q", head)
	}
	var words []string
	for i := 0; i < n; i++ {
		h := line()
		size, err := strconv.Atoi(strings.TrimPrefix(h, "$"))
		if err != nil || h[0] != '$' || size > len(b) {
			t.Fatalf("bulk header %q before %q", h, b)
		}
		words = append(words, string(b[:size]))
		b = b[size:]
		if !bytes.HasPrefix(b, []byte("\r\n")) {
			t.Fatalf("bulk string %q not ended by CRLF", words[len(words)-1])
		}
		b = b[2:]
	}
	if len(b) > 0 {
		t.Fatalf("%q after the array", b)
	}
	return words
}
