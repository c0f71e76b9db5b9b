// Package cmdline builds the command lines nsdump prints for a user to
// paste: the fixes trace proposes, the route lookup it did, the iproute2
// commands setup and teardown ran. A command is a list of words, never a
// formatted string: each word is rendered with POSIX shell single quotes
// when it holds anything but letters, digits and _@%+=:,./- , so a name
// such as `a;id` or `b$(id)` (iproute2 accepts both as namespace names)
// reaches the program as one argument and runs nothing else. Words that
// need no quotes are printed as they are, so ordinary commands read as a
// user would type them.
//
// nftables names travel twice: the shell passes them to nft, and nft's
// own parser reads them again, where a table or chain name must be an
// identifier (nft 1.0.6 takes no quoted name there). A name nft cannot be
// told gets no command at all.
//
// The package imports only the standard library, so that the judgement
// of a trace, which must not import the packages that touch the kernel,
// can build its commands with it.
package cmdline
