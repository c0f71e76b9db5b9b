// Package drops reports the packets the kernel drops in chosen network
// namespaces, as the kernel itself explains them: every skb freed through
// the skb:kfree_skb tracepoint with its drop reason (named from the running
// kernel's BTF, enum skb_drop_reason, never from a table compiled in here),
// the kernel function that dropped it (from /proc/kallsyms), its protocol,
// interface, network namespace and first bytes.
//
// A small eBPF program, assembled in Go so that building nsdump needs no
// C toolchain, is attached to the raw tracepoint. It reads the fields it
// needs with bpf_probe_read_kernel at offsets taken from the kernel's BTF
// at run time, keeps only skbs whose device (or socket) belongs to a
// watched namespace, and hands each one to user space through a ring
// buffer, counting the events the ring had no room for.
//
// The package knows nothing of capture files or traces.
package drops
