package topology

import "testing"

// FuzzKernelAnswers feeds arbitrary bytes to the parsers of rule dumps,
// socket diagnosis answers and attributes: a short or torn message must
// not panic.
func FuzzKernelAnswers(f *testing.F) {
	f.Add(make([]byte, 12))
	f.Add(append(make([]byte, 72), 5, 0, 11, 0, 1, 0, 0, 0))
	f.Add([]byte{8, 0, 6, 0, 100, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		attrs(b)
		if len(b) >= 12 {
			parseRule(b).policyRule()
		}
		parseListener(b, "tcp", 0)
	})
}
