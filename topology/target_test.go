package topology_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology"
)

func TestValidateTarget(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"vnet0", true}, {"pid:1", true}, {"pid:4194304", true}, {"/proc/12/ns/net", true},
		{"/run/docker/netns/0123abcd", true}, {"/var/run/netns/x", true},
		{"pid:", false}, {"pid:0", false}, {"pid:-3", false}, {"pid:01", false}, {"pid:4194305", false}, {"pid:1x", false},
		{"a/b", false}, {"../../proc", false}, {"proc/1/ns/net", false}, {"/proc/../etc", false}, {"/a//b", false},
		{"/a\nb", false}, {"/\xff", false}, {"", false}, {"/" + strings.Repeat("a", 4096), false},
		{"docker:web", true}, {"podman:0b8832f61916", true}, {"containerd:k8s.io/abc", true}, {"pod:shop/web-0", true},
		{"docker:", false}, {"docker:a/b", false}, {"pod:web", false}, {"containerd:/x", false}, {"docker:-x", false},
	}
	for _, tt := range tests {
		err := topology.ValidateTarget(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateTarget(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if err != nil && !errors.Is(err, topology.ErrInvalidName) {
			t.Errorf("ValidateTarget(%q): %v does not wrap ErrInvalidName", tt.in, err)
		}
	}
}
