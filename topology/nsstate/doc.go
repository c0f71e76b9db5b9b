// Package nsstate is what nsdump reads of a network namespace's kernel
// state, as plain values: links (with bridge masters and veth peers),
// forwarding and rp_filter sysctls, bridge forwarding databases and
// neighbour tables. topology fills them from the kernel; the judgement of a
// trace reads them from recorded facts. It imports only the standard
// library, so the judgement can be pure by its imports.
package nsstate
