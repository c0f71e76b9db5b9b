package netfilter

import (
	"fmt"
	"regexp"
	"strings"
)

// Undo is the command that takes the rule out of the packet's way, to run
// inside the rule's namespace: delete an nft rule by its handle, an
// iptables rule by the same spec (-D for -A), or set a dropping policy to
// accept. Names from the kernel are shell-quoted where they need it.
func (r Rule) Undo() string {
	if r.Xtables {
		tool := "iptables"
		if r.Family == FamilyIP6 {
			tool = "ip6tables"
		}
		if r.Policy {
			return fmt.Sprintf("%s -t %s -P %s ACCEPT", tool, shellQuote(r.Table), shellQuote(r.Chain))
		}
		// iptables-save writes a spec the shell reads back (it quotes what
		// needs it); only -A becomes -D.
		return fmt.Sprintf("%s -t %s -D%s", tool, shellQuote(r.Table), strings.TrimPrefix(r.Text, "-A"))
	}
	if r.Policy {
		return fmt.Sprintf("nft chain %s %s %s '{ policy accept; }'", r.Family, shellQuote(r.Table), shellQuote(r.Chain))
	}
	return fmt.Sprintf("nft delete rule %s %s %s handle %d", r.Family, shellQuote(r.Table), shellQuote(r.Chain), r.Handle)
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_.:/@%+=-]+$`)

func shellQuote(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dockerBridge is the name Docker gives a user network's bridge.
var dockerBridge = regexp.MustCompile(`\bbr-[0-9a-f]{12}\b|\bdocker0\b|\bdocker_gwbridge\b`)

// WrittenBy names the tool that manages the rule and will write it again
// after it is deleted ("docker", "podman", "kube-proxy", "firewalld",
// "libvirt", "cilium", "calico"), from the names those tools give their
// chains, tables and bridges; "" when none does. A fix should then go
// through that tool. Podman's rules are told by netavark's names (its
// NETAVARK chains, its nftables table netavark); Podman on the CNI
// plugins writes CNI- chains, which Kubernetes' runtimes write too, so
// those are nobody's in particular.
func (r Rule) WrittenBy() string {
	names := r.Table + " " + r.Chain + " " + strings.Join(r.ChainPath, " ") + " " + r.Text
	switch {
	case strings.Contains(names, "DOCKER") || dockerBridge.MatchString(names):
		return "docker"
	case strings.Contains(names, "NETAVARK") || r.Table == "netavark":
		return "podman"
	case strings.Contains(names, "KUBE-"):
		return "kube-proxy"
	case r.Table == "firewalld":
		return "firewalld"
	case strings.Contains(names, "LIBVIRT_"):
		return "libvirt"
	case strings.Contains(names, "CILIUM_") || r.Table == "cilium":
		return "cilium"
	case strings.Contains(names, "cali-"):
		return "calico"
	}
	return ""
}
