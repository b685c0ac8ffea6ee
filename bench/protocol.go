package bench

import (
	"bytes"
	"fmt"
	"strings"
)

// Protocol is a line protocol with a counter that the load generator can
// drive: fetchadd's own, or redis's INCRBY and memcached's incr, to
// compare them the same way.
type Protocol struct {
	name   string
	setup  string // sent once first, if not empty; its reply is one line
	add    string // the request that adds n, with %d for n
	prefix string // what a reply starts with before its number
	after  bool   // the reply gives the value after the add, not before
	resp   bool   // send add's words as a RESP array, not as the inline line
}

// The protocols Run speaks.
var (
	FetchAdd = &Protocol{name: "fetchadd", add: "%d\n", prefix: "  --> "}
	Redis    = &Protocol{name: "redis", add: "INCRBY fetchadd:bench %d\r\n", prefix: ":", after: true}
	// The same INCRBY in RESP, as redis-cli and the client libraries send
	// it ("*3\r\n$6\r\nINCRBY\r\n..."). Redis reads the two forms by
	// different code (an inline line is split at spaces; RESP is a count
	// and lengths), so measuring both shows what the form costs it, and
	// RESP is the form its users' requests take.
	RedisRESP = &Protocol{name: "redis-resp", add: "INCRBY fetchadd:bench %d\r\n", prefix: ":", after: true, resp: true}
	// "add" creates the key only if it is not there.
	Memcache = &Protocol{name: "memcached", setup: "add fetchadd_bench 0 0 1\r\n0\r\n", add: "incr fetchadd_bench %d\r\n", after: true}
)

// Protocols lists them by name.
var Protocols = map[string]*Protocol{"fetchadd": FetchAdd, "redis": Redis, "redis-resp": RedisRESP, "memcached": Memcache}

// Name is the protocol's name.
func (p *Protocol) Name() string { return p.name }

// Add is the request that adds n (Add(0) reads the counter).
func (p *Protocol) Add(n int) []byte {
	line := fmt.Sprintf(p.add, n)
	if p.resp {
		return respArray(strings.Fields(line))
	}
	return []byte(line)
}

// respArray is a command in RESP: "*" and the number of words, then "$",
// the length and the bytes of each word, every part ended by CRLF.
func respArray(words []string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(words))
	for _, w := range words {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(w), w)
	}
	return b
}

// Reply reads the reply to Add(n) and returns the counter's value before
// the add: "  --> 41\r\n" (fetchadd), ":42\r\n" (redis, the value
// after), "42\r\n" (memcached, after). ok is false for anything else.
func (p *Protocol) Reply(line []byte, n int64) (before int64, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(p.prefix))
	if !ok {
		return 0, false
	}
	v, ok := atoi(rest)
	if p.after {
		v -= n
	}
	return v, ok
}

// atoi reads a decimal int64 ending the line ("\r\n" or "\n"), without
// allocating: it runs once per reply.
func atoi(b []byte) (int64, bool) {
	b = bytes.TrimRight(b, "\r\n")
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}
