package trace

import (
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/judge"
)

// The facts a trace gathers, the verdicts and the record of a -w file
// are judge's (the pure judgement); trace's results carry them under
// these names.

type (
	Cond            = facts.Cond
	ConntrackEntry  = facts.ConntrackEntry
	NFDecision      = facts.NFDecision
	Tuple           = facts.Tuple
	Counter         = facts.Counter
	Dir             = facts.Dir
	Facts           = facts.Facts
	FamilyPath      = facts.FamilyPath
	Gap             = facts.Gap
	Hop             = facts.Hop
	ICMPSeen        = facts.ICMPSeen
	KernelDropSeen  = facts.KernelDropSeen
	Listener        = facts.Listener
	Lookup          = facts.Lookup
	MTUFacts        = facts.MTUFacts
	Packet          = facts.Packet
	ProbeFacts      = facts.ProbeFacts
	Record          = facts.Record
	RecordedVerdict = facts.RecordedVerdict
	Resolution      = facts.Resolution
	Role            = facts.Role
	RouteGet        = judge.RouteGet
	Rule            = facts.Rule
	RuleVerdict     = facts.RuleVerdict
	Sight           = facts.Sight
	SocketError     = facts.SocketError
	SocketFacts     = facts.SocketFacts
	Verdict         = judge.Verdict
	World           = judge.World
)

const (
	CauseConflict      = facts.CauseConflict
	CauseDropped       = facts.CauseDropped
	CauseLinkDown      = facts.CauseLinkDown
	CauseLoop          = facts.CauseLoop
	CauseMTU           = facts.CauseMTU
	CauseNAT           = facts.CauseNAT
	CauseNeighbor      = facts.CauseNeighbor
	CauseNoReturnRoute = facts.CauseNoReturnRoute
	CauseNoRoute       = facts.CauseNoRoute
	CauseOK            = facts.CauseOK
	CausePortClosed    = facts.CausePortClosed
	CauseRejected      = facts.CauseRejected
	CauseWrongRoute    = facts.CauseWrongRoute
	DirIn              = facts.DirIn
	DirOut             = facts.DirOut
	FactsPEN           = facts.FactsPEN
	FactsVersion       = facts.FactsVersion
	GapCounters        = facts.GapCounters
	GapLegacy          = facts.GapLegacy
	GapLinkState       = facts.GapLinkState
	GapNftables        = facts.GapNftables
	GapNFTrace         = facts.GapNFTrace
	KindMTU            = facts.KindMTU
	KindTCP            = facts.KindTCP
	MaxHops            = facts.MaxHops
	MaxRecord          = facts.MaxRecord
	RoleBridge         = facts.RoleBridge
	RoleDestination    = facts.RoleDestination
	RoleRouter         = facts.RoleRouter
	RoleSource         = facts.RoleSource
	RuleAccept         = facts.RuleAccept
	RuleDrop           = facts.RuleDrop
	RuleGoesOn         = facts.RuleGoesOn
	RuleReject         = facts.RuleReject
)

var (
	ErrNotRecord      = facts.ErrNotRecord
	IsDropCounter     = judge.IsDropCounter
	IsRecord          = facts.IsRecord
	Judge             = judge.Judge
	ParseIptablesSave = judge.ParseIptablesSave
	ParseRuleset      = judge.ParseRuleset
	ReadRecord        = facts.ReadRecord
	Walk              = judge.Walk
)
