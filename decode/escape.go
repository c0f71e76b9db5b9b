package decode

// AppendPrintable appends s with every byte a terminal could act on
// escaped as tcpdump escapes them (fn_print_char): a byte above 0x7f as
// "M-" and its low seven bits, a control character as "^" and the
// character 0x40 away (ESC "^[", BEL "^G", CR "^M", LF "^J", DEL "^?").
// Every string from a file or the kernel (interface and namespace names,
// comments) goes through it before it reaches a terminal, so a crafted
// name cannot retitle the window, clear the screen or forge a line.
func AppendPrintable(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > 0x7f {
			b = append(b, 'M', '-')
			c &= 0x7f
		}
		if c < 0x20 || c == 0x7f {
			b = append(b, '^')
			c ^= 0x40
		}
		b = append(b, c)
	}
	return b
}

// Printable is AppendPrintable for a string; s itself when it needs no
// escape, so the common case allocates nothing.
func Printable(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return string(AppendPrintable(make([]byte, 0, len(s)+8), s))
		}
	}
	return s
}
