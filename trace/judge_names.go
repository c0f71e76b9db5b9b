package trace

import judge "github.com/nsdump/nsdump/trace/judge"

// The facts a trace gathers, the verdicts and the record of a -w file
// are judge's (the pure judgement); trace's results carry them under
// these names.

type (
	Cond            = judge.Cond
	ConntrackEntry  = judge.ConntrackEntry
	NFDecision      = judge.NFDecision
	Tuple           = judge.Tuple
	Counter         = judge.Counter
	Dir             = judge.Dir
	Facts           = judge.Facts
	FamilyPath      = judge.FamilyPath
	Gap             = judge.Gap
	Hop             = judge.Hop
	ICMPSeen        = judge.ICMPSeen
	KernelDropSeen  = judge.KernelDropSeen
	Listener        = judge.Listener
	Lookup          = judge.Lookup
	MTUFacts        = judge.MTUFacts
	Packet          = judge.Packet
	ProbeFacts      = judge.ProbeFacts
	Record          = judge.Record
	RecordedVerdict = judge.RecordedVerdict
	Resolution      = judge.Resolution
	Role            = judge.Role
	RouteGet        = judge.RouteGet
	Rule            = judge.Rule
	RuleVerdict     = judge.RuleVerdict
	Sight           = judge.Sight
	SocketError     = judge.SocketError
	SocketFacts     = judge.SocketFacts
	Verdict         = judge.Verdict
	World           = judge.World
)

const (
	CauseConflict      = judge.CauseConflict
	CauseDropped       = judge.CauseDropped
	CauseLinkDown      = judge.CauseLinkDown
	CauseLoop          = judge.CauseLoop
	CauseMTU           = judge.CauseMTU
	CauseNAT           = judge.CauseNAT
	CauseNeighbor      = judge.CauseNeighbor
	CauseNoReturnRoute = judge.CauseNoReturnRoute
	CauseNoRoute       = judge.CauseNoRoute
	CauseOK            = judge.CauseOK
	CausePortClosed    = judge.CausePortClosed
	CauseRejected      = judge.CauseRejected
	CauseWrongRoute    = judge.CauseWrongRoute
	DirIn              = judge.DirIn
	DirOut             = judge.DirOut
	FactsPEN           = judge.FactsPEN
	FactsVersion       = judge.FactsVersion
	GapCounters        = judge.GapCounters
	GapLegacy          = judge.GapLegacy
	GapLinkState       = judge.GapLinkState
	GapNftables        = judge.GapNftables
	GapNFTrace         = judge.GapNFTrace
	KindMTU            = judge.KindMTU
	KindTCP            = judge.KindTCP
	MaxHops            = judge.MaxHops
	MaxRecord          = judge.MaxRecord
	RoleBridge         = judge.RoleBridge
	RoleDestination    = judge.RoleDestination
	RoleRouter         = judge.RoleRouter
	RoleSource         = judge.RoleSource
	RuleAccept         = judge.RuleAccept
	RuleDrop           = judge.RuleDrop
	RuleGoesOn         = judge.RuleGoesOn
	RuleReject         = judge.RuleReject
)

var (
	ErrNotRecord      = judge.ErrNotRecord
	IsDropCounter     = judge.IsDropCounter
	IsRecord          = judge.IsRecord
	Judge             = judge.Judge
	ParseIptablesSave = judge.ParseIptablesSave
	ParseRuleset      = judge.ParseRuleset
	ReadRecord        = judge.ReadRecord
	Walk              = judge.Walk
)
