package filter

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v3"

	"github.com/vexfs/semevent"
)

// RateOptions configure [NewRateLimit].
type RateOptions struct {
	// Rate is how many events per second each key may pass in the long
	// run. Required.
	Rate float64
	// Burst is how many events a key may pass at once. Default 1 or
	// ceil(Rate), whichever is larger.
	Burst int
	// Key buckets events; nil means [semevent.PathKey] (one bucket per
	// tenant and path). [semevent.TenantKey] gives one bucket per tenant.
	// Buckets never mix tenants. A bucket is found by the key's
	// [semevent.Key.Hash] (the key's text is not kept, so a bucket costs
	// the same whatever the key's length); two keys share a bucket with a
	// chance of 2^-64.
	Key semevent.KeyFunc
	// MaxKeys bounds the buckets kept; when it is reached all buckets are
	// forgotten (and refill), and [RateLimit.Evictions] counts them.
	// Default 65536. A bucket costs at most 160 bytes of heap whatever the
	// key's length, so the default bounds a limit's state near 10 MiB.
	MaxKeys int
	// Now is the clock, in Unix nanoseconds; default the wall clock. Tests
	// pass a fake.
	Now func() int64
}

// DefaultMaxKeys is the default [RateOptions.MaxKeys].
const DefaultMaxKeys = 65536

// Validate lists every problem in o.
func (o *RateOptions) Validate() error {
	p := &semevent.OptionsError{Options: "filter.RateOptions"}
	if o == nil {
		p.Addf("Rate", "is required")
		return p.Err()
	}
	if !(o.Rate > 0) {
		p.Addf("Rate", "%v must be positive", o.Rate)
	}
	if o.Burst < 0 {
		p.Addf("Burst", "%d is negative", o.Burst)
	}
	if o.MaxKeys < 0 {
		p.Addf("MaxKeys", "%d is negative", o.MaxKeys)
	}
	return p.Err()
}

// RateLimit passes events while their key's token bucket has tokens. It is
// stateful: every Match that returns true spends a token.
type RateLimit struct {
	opts    RateOptions
	perNano float64
	mu      sync.Mutex // guards resets of buckets
	buckets *xsync.MapOf[uint64, *bucket]
	nkeys   atomic.Int64
	evicted atomic.Uint64
}

type bucket struct {
	mu     sync.Mutex // guards tokens and last
	tokens float64
	last   int64
}

// NewRateLimit returns a token-bucket rate limit.
func NewRateLimit(opts *RateOptions) (*RateLimit, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := *opts
	if o.Burst == 0 {
		o.Burst = max(1, int(o.Rate+0.999999))
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.Now == nil {
		o.Now = func() int64 { return time.Now().UnixNano() }
	}
	if o.Key == nil {
		o.Key = semevent.PathKey
	}
	return &RateLimit{opts: o, perNano: o.Rate / 1e9, buckets: xsync.NewMapOf[uint64, *bucket]()}, nil
}

// Match spends a token from the event's bucket and reports whether there
// was one.
func (r *RateLimit) Match(ev *semevent.Event) bool {
	key := r.opts.Key(ev)
	key.Tenant = ev.Tenant // never mix tenants, whatever the KeyFunc
	k := key.Hash()
	b, ok := r.buckets.Load(k)
	if !ok {
		if r.nkeys.Load() >= int64(r.opts.MaxKeys) {
			r.mu.Lock()
			if r.nkeys.Load() >= int64(r.opts.MaxKeys) {
				r.buckets.Clear()
				r.evicted.Add(uint64(r.nkeys.Swap(0)))
			}
			r.mu.Unlock()
		}
		var loaded bool
		b, loaded = r.buckets.LoadOrCompute(k, func() *bucket {
			return &bucket{tokens: float64(r.opts.Burst), last: r.opts.Now()}
		})
		if !loaded {
			r.nkeys.Add(1)
		}
	}
	return r.take(b)
}

// Evictions returns how many buckets were forgotten because MaxKeys was
// reached.
func (r *RateLimit) Evictions() uint64 { return r.evicted.Load() }

func (r *RateLimit) take(b *bucket) bool {
	now := r.opts.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now > b.last {
		b.tokens = min(float64(r.opts.Burst), b.tokens+float64(now-b.last)*r.perNano)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// Sample passes one event in every n, counting across all callers. It is
// stateful.
type Sample struct {
	n uint64
	c atomic.Uint64
}

// NewSample returns a 1-in-n sampler; n ≤ 1 passes everything. The first
// event passes.
func NewSample(n int) *Sample { return &Sample{n: uint64(max(n, 1))} }

// Match reports whether ev is the one in n that passes.
func (s *Sample) Match(*semevent.Event) bool { return (s.c.Add(1)-1)%s.n == 0 }
