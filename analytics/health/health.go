// Package health checks the parts of a semevent deployment and reports
// them over HTTP for /healthz: each registered component reports OK,
// Degraded or Critical with a message, and the worst level decides the
// whole.
//
// # Usage
//
//	c := health.New(nil)
//	c.Register("bus", health.BusCheck(bus.Stats, 10000))
//	c.Register("analytics", health.WatermarkCheck(proc.Stats, time.Minute, nil))
//	http.Handle("/healthz", c)
//
// GET /healthz answers 200 with a JSON [Report] while nothing is critical
// and 503 once something is; ?component=name checks one component.
//
// # Concurrency
//
// All methods may be called concurrently. Check runs every check in its
// own goroutine and waits at most Options.Timeout; a check that takes
// longer is reported Critical ("timed out") and its goroutine finishes
// on its own.
//
// # Errors
//
// Register panics on an empty name or a nil check (programming errors);
// nothing else returns errors: problems are levels in the report.
//
// # Testing
//
// Register plain functions as checks to drive a Checker in tests; its
// report is deterministic apart from the durations.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Level is a component's state; higher is worse.
type Level int

const (
	OK       Level = iota // working
	Degraded              // working, with a problem worth a look
	Critical              // not doing its job
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Degraded:
		return "degraded"
	case Critical:
		return "critical"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Status is what a check says about its component.
type Status struct {
	Level   Level  `json:"level"`
	Message string `json:"message,omitempty"`
}

// Check reports one component's status. It should return promptly when
// ctx is done.
type Check func(ctx context.Context) Status

// Options configure a [Checker]; nil means defaults.
type Options struct {
	// Timeout bounds one round of checks (default 2s).
	Timeout time.Duration
}

// Checker runs registered checks. The zero value is not usable; call [New].
type Checker struct {
	timeout time.Duration

	mu     sync.Mutex // guards checks and names
	checks map[string]Check
	names  []string
}

// New returns a Checker with no components.
func New(opts *Options) *Checker {
	c := &Checker{timeout: 2 * time.Second, checks: map[string]Check{}}
	if opts != nil && opts.Timeout > 0 {
		c.timeout = opts.Timeout
	}
	return c
}

// Register adds or replaces the check of a component.
func (c *Checker) Register(name string, check Check) {
	if name == "" || check == nil {
		panic("health: Register needs a name and a check")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.checks[name]; !ok {
		c.names = append(c.names, name)
		slices.Sort(c.names)
	}
	c.checks[name] = check
}

// ComponentReport is one component's status in a [Report].
type ComponentReport struct {
	Name string `json:"name"`
	Status
	Duration time.Duration `json:"duration_ns"`
}

// Report is the result of one round of checks.
type Report struct {
	Level      Level             `json:"level"` // the worst component level
	Components []ComponentReport `json:"components"`
}

// Check runs the checks of the named components (all when none are
// named; unknown names are reported Critical) concurrently.
func (c *Checker) Check(ctx context.Context, names ...string) Report {
	c.mu.Lock()
	if len(names) == 0 {
		names = slices.Clone(c.names)
	}
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = c.checks[n]
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rep := Report{Components: make([]ComponentReport, len(names))}
	var wg sync.WaitGroup
	for i, n := range names {
		rep.Components[i].Name = n
		if checks[i] == nil {
			rep.Components[i].Status = Status{Critical, "no such component"}
			continue
		}
		wg.Add(1)
		done := make(chan Status, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- Status{Critical, fmt.Sprintf("check panicked: %v", r)}
				}
			}()
			done <- checks[i](ctx)
		}()
		go func() {
			defer wg.Done()
			start := time.Now()
			select {
			case s := <-done:
				rep.Components[i].Status = s
			case <-ctx.Done():
				rep.Components[i].Status = Status{Critical, "timed out"}
			}
			rep.Components[i].Duration = time.Since(start)
		}()
	}
	wg.Wait()
	for _, cr := range rep.Components {
		rep.Level = max(rep.Level, cr.Level)
	}
	return rep
}

// ServeHTTP answers with the JSON report: 200 unless a component is
// Critical, then 503. ?component=a&component=b limits the checks.
func (c *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := c.Check(r.Context(), r.URL.Query()["component"]...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if rep.Level == Critical {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}
