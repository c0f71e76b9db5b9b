package facts

import (
	"fmt"
	"net/netip"
)

// The kernel's own word on the probes' packets, as facts: what nftables
// tracing said decided each packet (NFNLGRP_NFTRACE, gathered by
// nftrace_linux.go) and the conntrack entries of the probe flows. Plain
// types with no tie to package netfilter, so that the judgement reads
// them as it reads the rest of the facts, from a -w file too.

// NFDecision is what decided one probe packet's walk through one base
// chain of one namespace's rules: the rule (or the chain's policy) with
// its verdict and the chain of jumps that led to it, the rule as the user
// wrote it and the command that takes it away.
type NFDecision struct {
	Namespace string `json:"namespace"`
	// Answer: the packet was the probe's answer (its flow's reply
	// direction), not its request.
	Answer bool       `json:"answer,omitempty"`
	Src    netip.Addr `json:"src"`
	Dst    netip.Addr `json:"dst"`
	Proto  uint8      `json:"proto"`
	SPort  uint16     `json:"sport,omitempty"`
	DPort  uint16     `json:"dport,omitempty"`
	Family string     `json:"family"` // the table's, as nft writes it
	Table  string     `json:"table"`
	Base   string     `json:"base"`  // the base chain walked
	Chain  string     `json:"chain"` // the chain whose rule or policy decided
	Handle uint64     `json:"handle,omitempty"`
	// Verdict is the decision as nft writes it: accept, drop, queue...
	Verdict string   `json:"verdict"`
	Policy  bool     `json:"policy,omitempty"`
	Path    []string `json:"path"` // base chain first
	// Rule is the rule as the user wrote it: for iptables-nft (Xtables)
	// the command (`iptables -t filter -A ...`), otherwise the nft rule
	// as `nft -a list` shows it; empty when it could not be read (a gap
	// says why).
	Rule    string `json:"rule,omitempty"`
	Xtables bool   `json:"xtables,omitempty"`
	// Spec is an iptables-nft rule's words after `-A CHAIN`, from which
	// the fix is built (quoted word by word, never pasted from the file);
	// WrittenBy the tool that writes the rule again ("docker").
	Spec      []string `json:"spec,omitempty"`
	WrittenBy string   `json:"written_by,omitempty"`
	// ND is the ICMPv6 type (133 to 137) when the packet was IPv6
	// neighbour discovery, which the probe needed but is not its flow.
	ND uint8 `json:"nd,omitempty"`
	// Count is how many packets this same decision took.
	Count int `json:"count"`
}

// ChainPath is the path as the verdict writes it: A -> B -> C.
func (d NFDecision) ChainPath() string {
	s := ""
	for i, c := range d.Path {
		if i > 0 {
			s += " -> "
		}
		s += c
	}
	return s
}

// Stops says whether the decision ended the packet.
func (d NFDecision) Stops() bool { return d.Verdict == "drop" }

// Tuple is one direction of a conntrack entry.
type Tuple struct {
	Src   netip.Addr `json:"src"`
	Dst   netip.Addr `json:"dst"`
	Proto uint8      `json:"proto"`
	SPort uint16     `json:"sport,omitempty"`
	DPort uint16     `json:"dport,omitempty"`
}

// ConntrackEntry is one conntrack entry of a probe flow in one namespace.
type ConntrackEntry struct {
	Namespace string `json:"namespace"`
	Original  Tuple  `json:"original"`
	Reply     Tuple  `json:"reply"`
	Status    string `json:"status,omitempty"`
	TCPState  string `json:"tcp_state,omitempty"`
	// Destroyed: the kernel deleted the entry while the probes ran (a
	// connection refused by a reset).
	Destroyed bool `json:"destroyed,omitempty"`
}

// nfMaxPath is the longest chain path nftables walks: its jump stack
// (NFT_JUMP_STACK_SIZE, 16) and the base chain.
const nfMaxPath = 17

// checkNetfilter refuses more of the kernel's word than a trace gathers:
// each decision is compared with every probe, each translation with every
// namespace's addresses.
func (f *Facts) checkNetfilter() error {
	if len(f.NFTrace) > maxRules || len(f.Conntrack) > maxEntries || len(f.Gaps) > maxEntries || len(f.NFTraced) > maxStates {
		return fmt.Errorf("%d nftables trace decisions, %d conntrack entries, %d gaps and %d namespaces traced, more than %d, %d, %d and %d",
			len(f.NFTrace), len(f.Conntrack), len(f.Gaps), len(f.NFTraced), maxRules, maxEntries, maxEntries, maxStates)
	}
	for _, d := range f.NFTrace {
		if len(d.Path) > nfMaxPath || len(d.Spec) > 4*maxConds {
			return fmt.Errorf("an nftables trace decision with %d chains on its path and %d spec words, more than %d and %d", len(d.Path), len(d.Spec), nfMaxPath, 4*maxConds)
		}
	}
	return nil
}
