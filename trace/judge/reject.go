package judge

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/trace/facts"
)

// answered says what answered a failed probe instead of its peer's
// stack: a reset or an ICMP error, where the captures saw it, or what the
// sender's socket was told when no capture saw anything (a reject in the
// sender's own output chain answers inside it). Empty when nothing did.
func answered(f *facts.Facts, p facts.ProbeFacts, socket string) string {
	var out []string
	if p.Refused {
		var at []string
		for _, s := range p.AnswerSeen {
			at = append(at, fmt.Sprintf("%s/%s %s", s.Namespace, s.Iface, s.Dir))
		}
		out = append(out, "a reset came back, seen at "+strings.Join(at, ", "))
	}
	out = append(out, errorsSeen(f, p)...)
	if len(out) == 0 && socket != "" {
		out = append(out, "the sender's socket was told "+socket)
	}
	return strings.Join(out, "; ")
}

// judgeRejected blames the firewall rule that answered a probe in place
// of its peer: the first rule along the request's path, in the hooks each
// namespace passes it through, that rejects it. False when something
// answered but no rule of the facts rejects the probe (a stack's own
// reset: port-closed), when a drop comes first, or when nothing answered.
func judgeRejected(f *facts.Facts, p facts.ProbeFacts, socket string) (Verdict, bool) {
	answer := answered(f, p, socket)
	if answer == "" {
		return Verdict{}, false
	}
	for _, h := range p.Path {
		rs := culprits(f, h.Namespace, h.Role, p.Request, at{in: h.In, out: h.Out, isNew: true})
		if len(rs) == 0 {
			continue
		}
		r := rs[0]
		if r.Verdict != facts.RuleReject {
			return Verdict{}, false
		}
		return Verdict{Cause: facts.CauseRejected, Namespace: r.Namespace,
			Detail: fmt.Sprintf("%s rejects the request: %s", ruleDescribe(r), answer),
			Fix:    ruleFix(r).String()}, true
	}
	return Verdict{}, false
}

// errorsSeen names each kind of ICMP error about the probe once, with who
// sent it, how many times, and every place it was seen.
func errorsSeen(f *facts.Facts, p facts.ProbeFacts) []string {
	type key struct {
		from string
		text string
	}
	var order []key
	count := map[key]int{}
	seen := map[key][]string{}
	for _, e := range p.Errors {
		k := key{e.From.String(), e.Text}
		for _, st := range f.Namespaces {
			if st.Owns(e.From) {
				k.from = st.Name + " (" + k.from + ")"
			}
		}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
		for _, s := range e.Seen {
			if at := fmt.Sprintf("%s/%s %s", s.Namespace, s.Iface, s.Dir); !slices.Contains(seen[k], at) {
				seen[k] = append(seen[k], at)
			}
		}
	}
	proto := "ICMP"
	if p.Family == 6 {
		proto = "ICMPv6"
	}
	var out []string
	for _, k := range order {
		s := fmt.Sprintf("%s sent %s %s (%d)", k.from, proto, k.text, count[k])
		if len(seen[k]) > 0 {
			s += ", seen at " + strings.Join(seen[k], ", ")
		}
		out = append(out, s)
	}
	return out
}
