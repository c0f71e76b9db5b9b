// Package decode turns frames into packets and packets into exchanges: ICMP
// echoes, TCP connection attempts, ARP and neighbour resolutions, with the
// ICMP errors that quote them. It also prints packets the way tcpdump does.
//
// Why the layers are read by hand here and not by gopacket/layers (which
// the rest of nsdump uses to build and check packets): on what users
// record, gopacket's decoders lose or misreport packets that tcpdump shows.
// Its TCP layer rejects a header whose options a snaplen cut ("TCP data
// offset greater than packet length"), so a `tcpdump -s 60` capture lost
// its connections; it marks every IPv6 packet with a hop-by-hop header as
// truncated; LinuxSLL slices by an unchecked length; it has no NFLOG,
// ERSPAN III or partial-header notion for `[|tcp]`. Each layer here checks
// its length before any field, reads in place from the frame, and the
// per-packet path allocates nothing (TestDecodeAllocatesNothing) at about
// a third of the cost of a DecodingLayerParser (BenchmarkDecode). Tests
// cross-check the lines against tcpdump's own reading of the same files.
package decode
