package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// ErrServerClosed says that the server closed the connection before it
// answered a line.
var ErrServerClosed = errors.New("the server closed the connection")

// Run is the terminal program with the counter on the server at fd: it
// prompts, reads a line from in, sends it with CRLF, and prints the reply
// without the CRLF, until in ends; then it half-closes and returns. For
// ASCII input its output is the terminal program's (fetchadd.RunTerminal).
func Run(fd int, in io.Reader, out io.Writer) error {
	lines := fetchadd.NewLineReader(in)
	replies := bufio.NewReader(Reader(fd))
	w := bufio.NewWriter(out)
	defer w.Flush() // what came of a reply the server did not finish
	var req []byte
	for {
		w.WriteString(fetchadd.Prompt)
		if err := w.Flush(); err != nil {
			return err
		}
		line, err := lines.ReadLine()
		if err == io.EOF {
			return sock.Shutdown(fd, unix.SHUT_WR)
		}
		if err != nil {
			return err
		}
		req = append(append(req[:0], line...), fetchadd.CRLF...)
		if err := sock.SendAll(fd, req); err != nil {
			return err
		}
		if err := copyReply(w, replies); err != nil {
			return err
		}
	}
}

// copyReply copies one reply from r to w without its CRLF (or LF), and
// then a newline, as it arrives: a reply longer than r's buffer goes out
// a buffer at a time (a number may have thousands of digits, and a server
// may send a line without end). The end of the stream before the reply's
// end is ErrServerClosed.
func copyReply(w *bufio.Writer, r *bufio.Reader) error {
	cr := false // a '\r' that ended the last piece: the CRLF's, or the reply's own
	for {
		piece, err := r.ReadSlice('\n')
		if err == nil {
			body := piece[:len(piece)-1]
			if cr && len(body) > 0 { // the '\r' was the reply's; alone before the LF, the CRLF's
				w.WriteByte('\r')
			}
			w.Write(bytes.TrimSuffix(body, []byte("\r")))
			return w.WriteByte('\n')
		}
		if cr {
			w.WriteByte('\r')
		}
		piece, cr = bytes.CutSuffix(piece, []byte("\r"))
		w.Write(piece)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return ErrServerClosed
		default:
			return err
		}
	}
}

// Reader makes the socket fd an io.Reader (for bufio), reading with
// sock.Read; the end of the stream is io.EOF.
func Reader(fd int) io.Reader { return fdReader(fd) }

type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	n, err := sock.Read(int(r), p)
	if n == 0 && err == nil && len(p) > 0 {
		return 0, io.EOF
	}
	return n, err
}
