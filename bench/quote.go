package bench

import "fmt"

// quoteMax is how many bytes of a reply an error line quotes.
const quoteMax = 200

// quote is a reply for an error line: Go-quoted, cut to quoteMax bytes
// with its length said if it is longer, so that a huge reply makes a
// short line.
func quote(b []byte) string {
	if len(b) <= quoteMax {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:quoteMax], len(b))
}
