package netfilter

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	l := newRouted(t)
	nftScript(t, l.R, `table inet f {
	chain forward { type filter hook forward priority 0; policy accept; counter jump sub; }
	chain sub { ip daddr `+l.SAddr.String()+` counter; }
}`)
	p := Probe{Src: l.CAddr, Dst: l.SAddr, Proto: ProtoICMP, ICMPID: 4242, HasID: true}
	tr, err := Start(context.Background(), l.ns(t, l.R), []Probe{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(listTables(t, l.R))
	t.Log(inNS(t, l.R, "nft", "list", "table", "inet", tr.Tables()[0].Name))
	if !l.ping(t, 4242) {
		t.Error("ping failed")
	}
	evs, err := tr.Events()
	for _, e := range evs {
		t.Logf("%+v", e)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	t.Log(listTables(t, l.R))
}
