package routing

import (
	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

// RuleSet is everything a [Table] routes by: destination groups and rules.
// It is plain data, loadable from JSON or YAML (see [ParseRuleSet]).
type RuleSet struct {
	Groups []Group `json:"groups,omitempty" yaml:"groups,omitempty"`
	Rules  []Rule  `json:"rules" yaml:"rules"`
}

// Rule sends the events it matches to its destinations. An event matches
// when every condition that is set holds: Subject, Path, Contains and
// When/Filter. A rule with no condition matches every event.
type Rule struct {
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Subject is a NATS-style pattern over the event's topic
	// (Event.TopicOrKind): "tenant.*.fs.file.write", "fs.>".
	Subject string `json:"subject,omitempty" yaml:"subject,omitempty"`
	// Path is a glob over the event's path: "/data/**/*.log".
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Contains lists literal patterns; the rule matches when one of them
	// occurs in one of the fields named by In.
	Contains []string `json:"contains,omitempty" yaml:"contains,omitempty"`
	// In names where Contains looks: "path", "attrs" (attribute values),
	// "data" (the payload). Default all three.
	In []string `json:"in,omitempty" yaml:"in,omitempty"`
	// When is an expr condition over the event (see filter.Compile).
	When string `json:"when,omitempty" yaml:"when,omitempty"`
	// Filter is an extra condition given through the API.
	Filter filter.Filter `json:"-" yaml:"-"`
	// To names destinations: a group of RuleSet.Groups or any other name,
	// which the host resolves (a subscription, a propagator, a node).
	To []string `json:"to" yaml:"to"`
}

// Group is a destination that stands for several members, one of which
// receives each event.
type Group struct {
	Name     string   `json:"name" yaml:"name"`
	Members  []string `json:"members" yaml:"members"`
	Strategy Strategy `json:"strategy,omitempty" yaml:"strategy,omitempty"`
	// Key is what consistent hashing hashes: "path" (the default),
	// "tenant", "topic", "inode" or "attr:NAME".
	Key string `json:"key,omitempty" yaml:"key,omitempty"`
	// KeyFunc, given through the API, replaces Key: consistent hashing
	// places the event by the [semevent.Key.Hash] of the key it returns.
	// It must be fast, safe for concurrent use and must not retain the
	// event.
	KeyFunc semevent.KeyFunc `json:"-" yaml:"-"`
}

// Strategy picks a group member.
type Strategy string

// The strategies.
const (
	// RoundRobin cycles through the members. The default.
	RoundRobin Strategy = "round-robin"
	// Hash sends equal keys to the same member, and moves few keys when
	// members change (consistent hashing with virtual nodes).
	Hash Strategy = "hash"
	// LeastLoaded picks the member with the lowest load, from
	// Options.Load when set, else from the count of events routed to it
	// minus those reported with [Table.Done].
	LeastLoaded Strategy = "least-loaded"
)
