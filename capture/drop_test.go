package capture

import (
	"encoding/json"
	"testing"
)

func TestDropComment(t *testing.T) {
	for _, tt := range []struct {
		comment string
		want    Drop
	}{
		{"drop: NETFILTER_DROP at nft_do_chain (tdb0)", Drop{"NETFILTER_DROP", "nft_do_chain", "tdb0"}},
		{"drop: NO_SOCKET at tcp_v4_rcv (no device)", Drop{"NO_SOCKET", "tcp_v4_rcv", NoDevice}},
		{"drop: NO_SOCKET at ping_rcv", Drop{"NO_SOCKET", "ping_rcv", ""}},
	} {
		t.Run(tt.comment, func(t *testing.T) {
			d, ok := ParseDropComment(tt.comment)
			if !ok || d != tt.want {
				t.Fatalf("ParseDropComment(%q) = %+v, %v; want %+v", tt.comment, d, ok, tt.want)
			}
			if c := d.Comment(); c != tt.comment {
				t.Errorf("Comment() = %q, want %q back", c, tt.comment)
			}
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var back Drop
			if err := json.Unmarshal(b, &back); err != nil || back != d {
				t.Errorf("JSON %s read back as %+v, %v", b, back, err)
			}
		})
	}
	if _, ok := ParseDropComment("a captured packet's comment"); ok {
		t.Error("a comment without the drop prefix read as a drop")
	}
	if ns, ok := DropsNamespace(DropsPoint("/run/netns/x y")); !ok || ns != "/run/netns/x y" {
		t.Errorf("DropsNamespace(DropsPoint) = %q, %v", ns, ok)
	}
	if _, ok := DropsNamespace("a/veth0"); ok {
		t.Error("a/veth0 taken for a drops point")
	}
}
