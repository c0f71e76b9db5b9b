// Package capture owns packets on their way in and out: AF_PACKET sockets
// inside namespaces, and the pcap and pcapng files nsdump writes and reads.
//
// A capture point is a (namespace, interface) pair, written NS/IFACE. Every
// Frame carries the index of its capture point, its link type and, where
// the source knows it, its direction.
//
// Why this package does by hand what gopacket's afpacket and pcapgo do:
//   - Sockets (rxring_linux.go): afpacket binds the socket to ETH_P_ALL
//     before the filter is attached, so frames the filter refuses reach the
//     ring in between (nsdump had to re-check every frame in userland); it
//     does not expose sll_pkttype, so In/Out had to be guessed from MACs;
//     and each socket looks its interface up by name with a dump of every
//     link and registers its packet hook three times (an RCU grace period
//     each): with `capture --all` over a hundred namespaces that was most of
//     the start-up. Here the socket is made with no hook, gets its ring and
//     classic BPF filter, and is bound last, by index.
//   - Files (read.go, readng.go, write.go): pcapgo trusts lengths from the
//     file (snaplen, block sizes) before allocating, and its pcapng reader
//     stops at options and block types it does not know; nsdump's readers
//     bound every hostile length first and name the offset of what is wrong.
//   - Filters (filter.go, bpfgen.go): libpcap's compiler needs cgo and
//     libpcap's headers, absent on a fresh machine; the compiler here
//     follows libpcap's grammar and is checked against it (filter_diff_test).
package capture
