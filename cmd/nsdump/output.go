package main

import (
	"fmt"
	"io"
)

// plural writes n and the noun, singular for one ("1 packet", "2
// packets"), as tcpdump's counts read.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// checkedWriter is standard output that remembers its first write error,
// so that `nsdump read f.pcap > /dev/full` fails (exit 2) instead of
// reporting success with nothing written.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	if err != nil {
		c.err = err
	}
	return n, err
}

// check turns a failed write into the command's error; a write error wins
// over the command's own outcome, since the user did not see it.
func (c *checkedWriter) check(err error) error {
	if c.err != nil {
		return fmt.Errorf("write standard output: %w", c.err)
	}
	return err
}

// underlying is the writer a checkedWriter (and the guard in it) wraps,
// for terminal checks.
func underlying(w io.Writer) io.Writer {
	if c, ok := w.(*checkedWriter); ok {
		w = c.w
	}
	if g, ok := w.(*guard); ok {
		w = g.w
	}
	return w
}
