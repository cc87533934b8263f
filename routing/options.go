package routing

import (
	"context"
	"sync/atomic"

	"github.com/vexfs/semevent"
)

// Options configure a [Table]. The zero value, and nil, mean defaults.
type Options struct {
	// Guard, when set, authorizes every reload: Load, LoadFile and Watch
	// call Guard(ctx, "routing.rules", load) and load only through it.
	// (*access.Authorizer).Guard fits, which checks that ctx's principal
	// holds OpAdmin on "admin.routing.rules" and audits the reload. Load
	// and LoadFile, which take no context, carry no principal and are then
	// refused; use LoadContext and LoadFileContext. The rule set given to
	// New is not guarded.
	Guard func(ctx context.Context, target string, load func() error) error

	// CacheSize bounds the routing decisions cached per distinct subject.
	// When full, the cache is emptied and refills. Default 16384.
	CacheSize int
	// DecisionCacheSize is the number of (topic, path) routing decisions
	// cached, rounded up to a power of two (keyed by topic alone when no
	// rule has a path glob). A hit costs two string hashes (one without
	// globs) and a comparison. A pair is cached (one allocation) the second time
	// it is seen within the cache's reach; a pair seen once is routed
	// through the indexes without allocating. The cache is two-way set
	// associative: a new decision takes an empty slot of its set, else
	// replaces one of the two. Memory: 16 bytes per slot, plus 320 bytes
	// per cached decision (more for one with over six destinations, a key
	// over 64 bytes, groups or per-event conditions): at most about 21 MiB
	// by default. Default 65536.
	DecisionCacheSize int
	// NoDecisionCache disables the decision cache: every event is routed
	// through the indexes.
	NoDecisionCache bool
	// Load reports a destination's current load for LeastLoaded groups
	// (a queue depth, in-flight requests). It is called from Route and
	// must be fast and safe for concurrent use. Default: the table's own
	// count of routed minus done events.
	Load func(dest string) int64

	panics *atomic.Uint64 // set by the Table: where recovered filter panics are counted
}

// DefaultCacheSize is the default [Options.CacheSize].
const DefaultCacheSize = 16384

// DefaultDecisionCacheSize is the default [Options.DecisionCacheSize].
const DefaultDecisionCacheSize = 65536

// Validate lists every problem in o.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	e := &semevent.OptionsError{Options: "routing.Options"}
	if o.CacheSize < 0 {
		e.Addf("CacheSize", "%d is negative", o.CacheSize)
	}
	if o.DecisionCacheSize < 0 || o.DecisionCacheSize > 1<<24 {
		e.Addf("DecisionCacheSize", "%d outside [0, 1<<24]", o.DecisionCacheSize)
	}
	return e.Err()
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.DecisionCacheSize == 0 {
		c.DecisionCacheSize = DefaultDecisionCacheSize
	}
	return c
}
