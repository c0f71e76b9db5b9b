// Package netfilter asks the kernel what netfilter did to nsdump's probe
// packets in one network namespace: which nftables or iptables-nft rule
// took each packet, by which chain of jumps, and what conntrack translated.
// It owns nsdump's own nftables state in other people's firewalls; it knows
// nothing of traces, verdicts or printing.
//
// Tracing (Start, Tracer): a table of nsdump's own per namespace,
// `inet nsdump_trace_PID_N` (and a `bridge` one when Config.Bridge), with a
// chain at prerouting and one at output, priority -350 (before conntrack at
// -200 and iptables' raw table at -300), whose rules set `meta nftrace set 1`
// on the probes' flows only: addresses, protocol, ports or ICMP echo id, both
// directions. Every later base chain of every table, iptables-nft's
// included, then reports each rule the packet matched, each chain end and
// each policy as an NFT_MSG_TRACE event on NFNLGRP_NFTRACE, which a socket
// in the namespace receives. Packets groups the events per packet into
// walks through base chains: the chains entered, the path of jumps to the
// verdict, and the event (rule or policy) that decided. Rules.Decision turns
// that event into the rule as the user wrote it: the `nft -s -a list` line of
// the handle, or for iptables-nft chains the iptables-save spec (`-A CHAIN
// ...`) at the same position, since iptables-nft-save has no handles and
// lists a chain's rules in the kernel's order.
//
// Rules of this package:
//   - One namespace switch: every socket is made inside topology.Do and used
//     from anywhere afterwards; tools (nft, iptables-nft-save) run through
//     the held namespace fd (nsenter --net=/proc/self/fd/3), never a name.
//   - nsdump's tables are recorded under the state directory (/run/nsdump/
//     nftables, NSDUMP_STATE_DIR) before they are made and the record is
//     removed after the table is gone, so a kill at any instant leaves a
//     record for whatever it left. The tables are also bound to the socket
//     that made them (NFT_TABLE_F_OWNER, Linux 5.12): the kernel removes
//     them when the process dies. Close, or the context's cancellation,
//     removes them; RemoveLeftovers (teardown --leftovers) deletes what a
//     dead run left, only in the namespace with the recorded inode and
//     cookie, only tables named nsdump_trace_PID_N.
//   - Events wait in the trace socket's buffer (4 MiB) until Events reads
//     them: the kernel queues a packet's events while it evaluates the
//     rules, so after a probe is answered or timed out they are all there.
//   - What could not be read is an *Unreadable (what, namespace, why), which
//     trace turns into a gap fact; nothing is an empty list in disguise.
//   - Parsers of kernel bytes (ParseEvent, ParseConntrack) check every
//     length and are fuzzed; the codec is hand-written on x/sys sockets
//     because no Go library decodes trace events (google/nftables has no
//     NFT_MSG_TRACE support, and its release cannot make owner tables).
//
// Limits: the kernel gives a packet's events one ID, hashed from the
// sk_buff's address, which a later packet may get again; a packet starts at
// nsdump's own chain (its first event carries the header), which tells them
// apart. Only the probes' own flows are marked: an ICMP error about a probe
// from a third address, or a flow after a translation (the reply of a DNAT
// comes from the backend's address), is traced only if a probe names it.
// A TCP connection refused by a reset alone leaves no conntrack entry (the
// kernel deletes it at once): Config.Conntrack listens to the conntrack
// events while tracing, which show it (Tracer.Conntrack); ConntrackEntries
// dumps what is left afterwards. In the initial namespace with a logger for
// iptables-legacy's TRACE, legacy tables would log the marked packets.
package netfilter
