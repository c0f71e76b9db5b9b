package topology

import "fmt"

// Unreadable is kernel state that could not be read: which, in which
// namespace, and why. The judgement turns it into a gap ("could not read
// bridge ports in B: ..."), never into an empty list; errors.As finds it in
// every error the gathering functions (Lookup, Settings, Bridges, FDB,
// Listeners, Neighbors, AddressStates) return.
type Unreadable struct {
	What      string // "route lookup", "sysctls", "bridge ports", "listeners"...
	Namespace string // as the caller named it
	Err       error
}

func (e *Unreadable) Error() string {
	return fmt.Sprintf("could not read %s in %s: %v", e.What, e.Namespace, e.Err)
}

func (e *Unreadable) Unwrap() error { return e.Err }

// clipWord bounds what an error quotes of a caller's or the kernel's text.
func clipWord(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}
