package fetchadd

import (
	"bufio"
	"io"
)

// Prompt is what the handout's program asks before each number.
const Prompt = "Enter next number: "

// LineReader reads text lines the way Python 3 reads sys.stdin on Linux
// and macOS: a line ends at "\n" and only there. (Python opens stdin with
// newline="\n", not universal newlines: a CR stays in the line, where
// int() takes it for whitespace, so "5\r\n" is 5 but "2\r3" is not a
// number.)
type LineReader struct {
	r    *bufio.Reader
	line []byte
}

// NewLineReader reads lines from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{r: bufio.NewReader(r)}
}

// ReadLine returns the next line without its "\n". A last line with no
// "\n" is returned as a line; after it, ReadLine returns io.EOF. The line
// is valid until the next call.
func (lr *LineReader) ReadLine() ([]byte, error) {
	lr.line = lr.line[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.line = append(lr.line, chunk...)
		switch {
		case err == nil:
			return lr.line[:len(lr.line)-1], nil
		case err == io.EOF && len(lr.line) > 0:
			return lr.line, nil
		case err != bufio.ErrBufferFull:
			return nil, err
		}
	}
}

// RunTerminal is the handout's terminal program: it prompts, reads a line
// from in, and prints the counter's value before adding the number, or
// Invalid, until the input ends. Lines are read as text, with ParseText.
func RunTerminal(in io.Reader, out io.Writer, c *Counter) error {
	w := bufio.NewWriter(out)
	lines := NewLineReader(in)
	var reply []byte
	for {
		w.WriteString(Prompt)
		if err := w.Flush(); err != nil { // the prompt must show before we wait
			return err
		}
		line, err := lines.ReadLine()
		if err == io.EOF {
			return nil // like Python's EOFError: the prompt stays, nothing else
		}
		if err != nil {
			return err
		}
		reply = reply[:0]
		if n, ok := ParseText(string(line)); ok {
			reply = AppendResult(reply, c.Add(n))
		} else {
			reply = append(reply, Invalid...)
		}
		w.Write(append(reply, '\n'))
	}
}
