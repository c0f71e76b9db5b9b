package nsstate

import (
	"fmt"
)

// PolicyRule is one `ip rule` entry, written as `ip rule` writes it.
type PolicyRule struct {
	Priority int    `json:"priority"`
	Selector string `json:"selector"` // "from all fwmark 0x5"
	Action   string `json:"action"`   // "lookup 100", "goto 200", "prohibit"
	Table    uint32 `json:"table,omitempty"`
}

// String is the rule's line in `ip rule` ("100:\tfrom all fwmark 0x5 lookup 100").
func (r PolicyRule) String() string {
	return fmt.Sprintf("%d:\t%s %s", r.Priority, r.Selector, r.Action)
}

// Lookup is the kernel's answer to a LookupQuery and the policy rule that
// chose the table it came from.
type Lookup struct {
	Namespace string       `json:"namespace"`
	Route     *LookupRoute `json:"route,omitempty"` // nil when the kernel refused
	Table     uint32       `json:"table_id,omitempty"`
	// Rule is the first rule whose selectors match the query and whose
	// action gave the answer: a lookup in the answer's table, a lookup in a
	// table whose best route refused (Refusal), or a blackhole, unreachable
	// or prohibit rule. Nil when no rule decided (every consulted table
	// lacked a route).
	Rule *PolicyRule `json:"rule,omitempty"`
	// Refusal is the blackhole, unreachable or prohibit route of the rule's
	// table that refused the lookup.
	Refusal *BlockingRoute `json:"refusal,omitempty"`
	// Passed are the matching rules walked before the deciding one whose
	// tables held no route for the query.
	Passed []PolicyRule `json:"passed,omitempty"`
	Errno  int          `json:"errno,omitempty"`
	Error  string       `json:"error,omitempty"` // "RTNETLINK answers: Network is unreachable"
}

// LookupRoute is the route a lookup answered, in `ip route get`'s words.
type LookupRoute struct {
	Type    string `json:"type"` // "unicast", "local", "blackhole"...
	Gateway string `json:"gateway,omitempty"`
	Dev     string `json:"dev,omitempty"`
	Src     string `json:"prefsrc,omitempty"`
	Line    string `json:"line"` // the first line `ip route get` prints
}

// FixTable is the table a route fixing this lookup must go into: the
// table the deciding rule consults ("main", "100"; a refusing route there
// is replaced); "main" when no rule decided, and "" when the deciding rule
// refuses by its own action (the fix is then that rule, not a route).
func (l *Lookup) FixTable() string {
	switch {
	case l.Rule == nil && l.Route != nil:
		return TableWord(l.Table)
	case l.Rule == nil:
		return "main"
	case l.Rule.Table == 0:
		return ""
	}
	return TableWord(l.Rule.Table)
}

// FixArgs are the words a fix appends to `ip route replace ...` so the route
// lands where the deciding rule looks: nothing for main, "table T" otherwise.
func (l *Lookup) FixArgs() []string {
	t := l.FixTable()
	if t == "main" || t == "" {
		return nil
	}
	return []string{"table", t}
}

// TableWord names a routing table as iproute2's rt_tables does.
func TableWord(t uint32) string {
	switch t {
	case 255:
		return "local"
	case 254:
		return "main"
	case 253:
		return "default"
	}
	return fmt.Sprint(t)
}
