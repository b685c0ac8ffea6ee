package fetchadd

// Invalid is the reply to a line that is not a number, as the handout's
// program prints it.
const Invalid = "!!!!"

// Busy is the reply to a line that the server refused to hold while it
// waited for the line's LF, because lines unfinished on all connections
// already held the whole Budget. It is sent at the line's LF, in the
// line's turn among the replies.
const Busy = Invalid + " server busy: too many unfinished lines; try again later"

// CRLF ends every reply on the wire: line-oriented Internet protocols of the
// 1980s (Telnet, SMTP, FTP) end lines with CR LF, and the lab follows them.
const CRLF = "\r\n"

// AppendResult appends the reply for a number that was added: two spaces,
// an arrow, a space and the counter's value before the add, "  --> 41".
func AppendResult(dst []byte, old Number) []byte {
	dst = append(dst, "  --> "...)
	return old.Append(dst)
}
