package topology

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateNamespace(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"vnet0", true},
		{"a-b_c.d", true},
		{strings.Repeat("n", 255), true},
		{"", false},
		{".", false},
		{"..", false},
		{"../../proc", false},
		{"a/b", false},
		{"a b", false},
		{"tab\there", false},
		{"nul\x00", false},
		{"\xff\xfe", false},
		{strings.Repeat("n", 256), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateNamespace(tt.name)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateNamespace(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error %v does not wrap ErrInvalidName", err)
			}
		})
	}
}

func TestValidateInterface(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"veth0", true},
		{"eth0.100", true},
		{strings.Repeat("i", 15), true},
		{strings.Repeat("i", 16), false},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a:b", false},
		{"a b", false},
		{"nl\n", false},
		{"nul\x00", false},
		{"\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateInterface(tt.name); (err == nil) != tt.ok {
				t.Fatalf("ValidateInterface(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
}

func TestParseInterfacePrefix(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means an error
	}{
		{"10.0.1.0/24", "10.0.1.0/24"},
		{"192.168.7.1/30", "192.168.7.1/30"},
		{"10.0.1.0", ""},
		{"10.0.1.0/33", ""},
		{"10.0.1.0/0", ""},
		{"0.0.0.0/8", ""},
		{"127.0.0.1/8", ""},
		{"224.0.0.1/4", ""},
		{"fe80::1/64", ""},
		{"10.0.1.256/24", ""},
		{"", ""},
		{"banana", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParseInterfacePrefix(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseInterfacePrefix(%q) = %v, want an error", tt.in, p)
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Fatalf("ParseInterfacePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
}

func TestLabValidate(t *testing.T) {
	base := DefaultLab()
	if err := base.Validate(); err != nil {
		t.Fatalf("default lab: %v", err)
	}
	bad := map[string]func(*Lab){
		"same namespace":  func(l *Lab) { l.NS1 = l.NS0 },
		"same address":    func(l *Lab) { l.Addr1 = l.Addr0 },
		"long veth":       func(l *Lab) { l.Veth0 = "veth0123456789ab" },
		"traversal ns":    func(l *Lab) { l.NS0 = "../../proc" },
		"whitespace veth": func(l *Lab) { l.Veth1 = "veth 1" },
		"empty namespace": func(l *Lab) { l.NS1 = "" },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			l := base
			mutate(&l)
			if err := l.Validate(); err == nil {
				t.Fatalf("Validate accepted %+v", l)
			}
		})
	}
}
