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
		reply, err := replies.ReadBytes('\n') // long: a number may have 4300 digits
		if err == io.EOF {
			return ErrServerClosed
		}
		if err != nil {
			return err
		}
		reply = bytes.TrimSuffix(bytes.TrimSuffix(reply, []byte("\n")), []byte("\r"))
		w.Write(append(reply, '\n'))
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
