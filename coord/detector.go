package coord

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vexfs/semevent"
)

// DetectorOptions configure a [Detector]. The zero value means defaults.
type DetectorOptions struct {
	// Threshold is the phi at and above which a peer is suspected.
	// Default 8 (the chance that a live peer is wrongly suspected is about
	// 10^-8 per check under the learned distribution).
	Threshold float64
	// Window is how many heartbeat intervals are remembered per peer.
	// Default 100.
	Window int
	// MinStdDev floors the learned deviation, so that perfectly regular
	// heartbeats do not make a slightly late one look fatal. Default
	// 50ms.
	MinStdDev time.Duration
	// Pause is added to the learned mean: an allowance for pauses (garbage
	// collection, a loaded machine). Default 0.
	Pause time.Duration
	// FirstInterval seeds a peer's history before its second heartbeat.
	// Default 1s.
	FirstInterval time.Duration
	// MaxPeers bounds how many nodes the detector tracks (each holds a
	// Window of intervals): a heartbeat or Watch of a new node beyond it
	// is refused and counted ([Detector.Refused]), so forged heartbeats
	// with random node ids cannot grow it. Default 1024.
	MaxPeers int
}

// DefaultMaxPeers is the default DetectorOptions.MaxPeers.
const DefaultMaxPeers = 1024

func (o *DetectorOptions) withDefaults() DetectorOptions {
	var c DetectorOptions
	if o != nil {
		c = *o
	}
	if c.Threshold == 0 {
		c.Threshold = 8
	}
	if c.Window == 0 {
		c.Window = 100
	}
	if c.MinStdDev == 0 {
		c.MinStdDev = 50 * time.Millisecond
	}
	if c.FirstInterval == 0 {
		c.FirstInterval = time.Second
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	return c
}

// Validate reports every problem with o (after defaults) in one
// *semevent.OptionsError.
func (o *DetectorOptions) Validate() error {
	c := o.withDefaults()
	e := &semevent.OptionsError{Options: "coord.DetectorOptions"}
	if c.Threshold <= 0 {
		e.Addf("Threshold", "%v, want > 0", c.Threshold)
	}
	if c.Window < 1 {
		e.Addf("Window", "%d, want at least 1", c.Window)
	}
	if c.MinStdDev < 0 {
		e.Addf("MinStdDev", "%v is negative", c.MinStdDev)
	}
	if c.Pause < 0 {
		e.Addf("Pause", "%v is negative", c.Pause)
	}
	if c.MaxPeers < 0 {
		e.Addf("MaxPeers", "%d is negative", c.MaxPeers)
	}
	if c.FirstInterval <= 0 {
		e.Addf("FirstInterval", "%v, want > 0", c.FirstInterval)
	}
	return e.Err()
}

// Detector is a phi-accrual failure detector (Hayashibara et al.): it
// learns the distribution of the intervals between a peer's heartbeats and
// reports, instead of a yes/no verdict, phi = -log10(P(a heartbeat this
// late)), which grows the longer the peer stays silent. A peer is suspected
// when phi reaches the threshold; it is trusted again with its next
// heartbeat, which is how a healed partition shows. Time is passed in, so
// tests drive it. Safe for concurrent use.
type Detector struct {
	opts DetectorOptions

	mu      sync.Mutex // guards peers
	peers   map[uint64]*arrivals
	refused atomic.Uint64
}

type arrivals struct {
	last      time.Time
	intervals []float64 // seconds, a ring of opts.Window
	next      int
	sum, sq   float64
}

// NewDetector returns a detector with no peers. A nil *DetectorOptions
// means defaults.
func NewDetector(opts *DetectorOptions) (*Detector, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Detector{opts: opts.withDefaults(), peers: make(map[uint64]*arrivals)}, nil
}

// Heartbeat records a heartbeat from node at time at. A new node beyond
// MaxPeers is refused and counted.
func (d *Detector) Heartbeat(node uint64, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.peers[node]
	if a == nil {
		if len(d.peers) >= d.opts.MaxPeers {
			d.refused.Add(1)
			return
		}
		a = &arrivals{last: at}
		d.peers[node] = a
		a.add(d.opts.FirstInterval.Seconds(), d.opts.Window)
		return
	}
	if iv := at.Sub(a.last); iv > 0 {
		a.add(iv.Seconds(), d.opts.Window)
		a.last = at
	}
}

func (a *arrivals) add(iv float64, window int) {
	if len(a.intervals) < window {
		a.intervals = append(a.intervals, iv)
	} else {
		old := a.intervals[a.next]
		a.sum -= old
		a.sq -= old * old
		a.intervals[a.next] = iv
		a.next = (a.next + 1) % window
	}
	a.sum += iv
	a.sq += iv * iv
}

// Watch starts tracking node as if a heartbeat arrived at at, so that a
// peer that never sends one becomes suspected too.
func (d *Detector) Watch(node uint64, at time.Time) {
	d.mu.Lock()
	_, ok := d.peers[node]
	d.mu.Unlock()
	if !ok {
		d.Heartbeat(node, at)
	}
}

// Refused returns how many heartbeats and Watch calls for new nodes were
// refused because MaxPeers nodes were tracked.
func (d *Detector) Refused() uint64 { return d.refused.Load() }

// Forget stops tracking node.
func (d *Detector) Forget(node uint64) {
	d.mu.Lock()
	delete(d.peers, node)
	d.mu.Unlock()
}

// Phi returns node's suspicion level at now: 0 for an unknown node.
func (d *Detector) Phi(node uint64, now time.Time) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.peers[node]
	if a == nil {
		return 0
	}
	return d.phiLocked(a, now)
}

func (d *Detector) phiLocked(a *arrivals, now time.Time) float64 {
	n := float64(len(a.intervals))
	mean := a.sum/n + d.opts.Pause.Seconds()
	std := math.Sqrt(max(a.sq/n-(a.sum/n)*(a.sum/n), 0))
	std = max(std, d.opts.MinStdDev.Seconds())
	t := now.Sub(a.last).Seconds()
	// The logistic approximation of the normal CDF that Akka uses.
	y := (t - mean) / std
	e := math.Exp(-y * (1.5976 + 0.070566*y*y))
	var p float64
	if t > mean {
		p = e / (1 + e)
	} else {
		p = 1 - 1/(1+e)
	}
	if p <= 0 {
		return math.MaxFloat64
	}
	return -math.Log10(p)
}

// Suspected reports whether node's phi at now is at or above the
// threshold.
func (d *Detector) Suspected(node uint64, now time.Time) bool {
	return d.Phi(node, now) >= d.opts.Threshold
}

// Peers reports every tracked node's health at now, by node id.
func (d *Detector) Peers(now time.Time) []PeerHealth {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]PeerHealth, 0, len(d.peers))
	for n, a := range d.peers {
		phi := d.phiLocked(a, now)
		out = append(out, PeerHealth{Node: n, Phi: phi, Suspected: phi >= d.opts.Threshold, LastSeen: a.last})
	}
	slices.SortFunc(out, func(a, b PeerHealth) int {
		return cmp.Compare(a.Node, b.Node)
	})
	return out
}
