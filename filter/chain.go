package filter

import (
	"fmt"
	"sync"

	"github.com/vexfs/semevent"
)

// ChainOptions configure [NewChain].
type ChainOptions struct {
	// Any makes the chain match when any filter matches; by default it
	// matches when every filter does.
	Any bool
	// Parallel evaluates the filters concurrently, one goroutine each
	// beyond the first, and waits for all of them. It pays off only when
	// filters are expensive (tens of microseconds: remote lookups, large
	// regexps over payloads); for cheap filters the goroutines cost far
	// more than the filters. Sequential chains stop at the first decisive
	// answer; parallel ones always run every filter.
	Parallel bool
}

// Validate lists every problem in o; every ChainOptions is valid today.
func (o *ChainOptions) Validate() error { return nil }

// Chain combines filters, sequentially or in parallel. It is safe for
// concurrent use when its filters are.
type Chain struct {
	fs     []Filter
	opts   ChainOptions
	fields FieldSet
}

// Fields returns the union of the fields the chain's filters read, or
// [FieldsUnknown].
func (c *Chain) Fields() FieldSet { return c.fields }

// NewChain returns a chain over fs, which must hold no nil filter. The
// chain is a [FieldReader] when every filter in it is.
func NewChain(fs []Filter, opts *ChainOptions) (*Chain, error) {
	p := &semevent.OptionsError{Options: "filter.ChainOptions"}
	for i, f := range fs {
		if f == nil {
			p.Addf(fmt.Sprintf("filters[%d]", i), "is nil")
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	c := &Chain{fs: append([]Filter(nil), fs...)}
	if opts != nil {
		c.opts = *opts
	}
	c.fields = fieldsOf(fs)
	return c, nil
}

// Match evaluates the chain.
func (c *Chain) Match(ev *semevent.Event) bool {
	if !c.opts.Parallel || len(c.fs) < 2 {
		for _, f := range c.fs {
			if f.Match(ev) == c.opts.Any {
				return c.opts.Any
			}
		}
		return !c.opts.Any
	}
	var stack [8]bool
	res := stack[:0]
	if len(c.fs) > len(stack) {
		res = make([]bool, 0, len(c.fs))
	}
	res = res[:len(c.fs)]
	var wg sync.WaitGroup
	for i := 1; i < len(c.fs); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = c.fs[i].Match(ev)
		}()
	}
	res[0] = c.fs[0].Match(ev)
	wg.Wait()
	for _, r := range res {
		if r == c.opts.Any {
			return c.opts.Any
		}
	}
	return !c.opts.Any
}
