// Package shellwords reads a command line the way a POSIX shell would, for
// tests that check what a printed command runs when a user pastes it. It
// is deliberately strict: anything the shell would expand, redirect,
// substitute or run apart (outside single quotes) is an error, so a line
// it accepts runs exactly the words it returns.
package shellwords

import (
	"fmt"
	"slices"
	"strings"
)

// Parse splits line into commands joined by "&&", each a list of words.
func Parse(line string) ([][]string, error) {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord := false
	end := func() {
		if inWord {
			words = append(words, w.String())
			w.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			end()
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at byte %d", i)
			}
			w.WriteString(line[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '\\':
			if i+1 >= len(line) || line[i+1] == '\n' {
				return nil, fmt.Errorf("backslash at the end of a line at byte %d", i)
			}
			w.WriteByte(line[i+1])
			inWord = true
			i++
		case c == '&' && strings.HasPrefix(line[i:], "&& ") && !inWord && len(words) > 0:
			cmds = append(cmds, words)
			words = nil
			i++
		case strings.IndexByte("|&;<>()$`\"*?[]{}\n\r!", c) >= 0,
			(c == '#' || c == '~') && !inWord:
			return nil, fmt.Errorf("shell metacharacter %q outside quotes at byte %d", c, i)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	end()
	if len(words) == 0 {
		return nil, fmt.Errorf("empty command in %q", line)
	}
	return append(cmds, words), nil
}

// programs are the ones nsdump's printed commands start.
var programs = []string{"ip", "bridge", "nft", "iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy", "sysctl", "nc"}

// Check parses line and requires every command in it to start one of the
// programs nsdump prints, directly or through `ip netns exec NAME` or
// nsenter; it returns the commands.
func Check(line string) ([][]string, error) {
	cmds, err := Parse(line)
	if err != nil {
		return nil, err
	}
	for _, c := range cmds {
		prog := program(c)
		if !slices.Contains(programs, prog) {
			return nil, fmt.Errorf("command %q starts %q, not one of %v", c, prog, programs)
		}
	}
	return cmds, nil
}

// program is the program a command ends up running, past the wrappers
// that enter a namespace.
func program(c []string) string {
	switch {
	case len(c) >= 5 && c[0] == "ip" && c[1] == "netns" && c[2] == "exec":
		return program(c[4:])
	case len(c) >= 5 && c[0] == "nsenter" && c[1] == "-t" && c[3] == "-n":
		return program(c[4:])
	case len(c) >= 3 && c[0] == "nsenter" && strings.HasPrefix(c[1], "--net=/"):
		return program(c[2:])
	case len(c) > 0:
		return c[0]
	}
	return ""
}
