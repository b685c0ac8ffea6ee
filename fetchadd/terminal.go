package fetchadd

import (
	"bufio"
	"io"
)

// Prompt is what the handout's program asks before each number.
const Prompt = "Enter next number: "

// LineReader reads text lines the way Python 3 reads sys.stdin, with
// universal newlines: "\n", "\r\n" and a lone "\r" each end a line.
type LineReader struct {
	r    *bufio.Reader
	line []byte
}

// NewLineReader reads lines from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{r: bufio.NewReader(r)}
}

// ReadLine returns the next line without its ending. A last line with no
// ending is returned as a line; after it, ReadLine returns io.EOF.
func (lr *LineReader) ReadLine() ([]byte, error) {
	lr.line = lr.line[:0]
	for {
		c, err := lr.r.ReadByte()
		if err == io.EOF && len(lr.line) > 0 {
			return lr.line, nil
		}
		if err != nil {
			return nil, err
		}
		switch c {
		case '\n':
			return lr.line, nil
		case '\r':
			if next, err := lr.r.Peek(1); err == nil && next[0] == '\n' {
				lr.r.ReadByte() //nolint:errcheck // Peek just saw it
			}
			return lr.line, nil
		}
		lr.line = append(lr.line, c)
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
