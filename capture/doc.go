// Package capture owns packets on their way in and out: AF_PACKET sockets
// inside namespaces, and the pcap and pcapng files nsdump writes and reads.
//
// A capture point is a (namespace, interface) pair, written NS/IFACE. Every
// Frame carries the index of its capture point, its link type and, where
// the source knows it, its direction.
package capture
