package decode

import "testing"

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ns0/veth0", "ns0/veth0"},
		{"\x1b]0;pwned\x07", "^[]0;pwned^G"}, // retitles an xterm
		{"\x1b[2J\x1b[H", "^[[2J^[[H"},       // clears the screen
		{"a\r\nIP 6.6.6.6 > 7.7.7.7", "a^M^JIP 6.6.6.6 > 7.7.7.7"},
		{"\x00\x7f", "^@^?"},
		{"\xe9t\xe9", "M-itM-i"},
		{"\x9b31m", "M-^[31m"}, // the 8-bit CSI
		{"", ""},
	}
	for _, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(AppendPrintable([]byte("x"), tt.in)); got != "x"+tt.want {
			t.Errorf("AppendPrintable(%q) = %q", tt.in, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Printable("ns0/veth0") }); n != 0 {
		t.Errorf("Printable of a clean name allocates %.0f times", n)
	}
}
