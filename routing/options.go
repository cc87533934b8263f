package routing

import "fmt"

// Options configure a [Table]. The zero value, and nil, mean defaults.
type Options struct {
	// CacheSize bounds the routing decisions cached per distinct subject.
	// When full, the cache is emptied and refills. Default 16384.
	CacheSize int
	// Load reports a destination's current load for LeastLoaded groups
	// (a queue depth, in-flight requests). It is called from Route and
	// must be fast and safe for concurrent use. Default: the table's own
	// count of routed minus done events.
	Load func(dest string) int64
}

// DefaultCacheSize is the default [Options.CacheSize].
const DefaultCacheSize = 16384

// Validate lists every problem in o.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	var ps []string
	if o.CacheSize < 0 {
		ps = append(ps, fmt.Sprintf("CacheSize %d is negative", o.CacheSize))
	}
	if len(ps) > 0 {
		return &OptionsError{Options: "Options", Problems: ps}
	}
	return nil
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	return c
}
