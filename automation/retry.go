package automation

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how a step is retried: up to MaxAttempts attempts,
// waiting Initial, Initial×Multiplier, … (at most Max) between them, each
// wait varied at random by ±Jitter of itself. The zero value means
// defaults: 3 attempts, 100 ms, ×2, at most 10 s, jitter 0.2. Use
// MaxAttempts 1 for no retry. Errors wrapped by [Permanent] and context
// cancellation are not retried.
type RetryPolicy struct {
	MaxAttempts int
	Initial     time.Duration
	Max         time.Duration
	Multiplier  float64
	Jitter      float64 // 0 to 1; negative means none
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.Initial <= 0 {
		p.Initial = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	if p.Jitter == 0 {
		p.Jitter = 0.2
	}
	if p.Jitter < 0 {
		p.Jitter = 0
	}
	p.Jitter = min(p.Jitter, 1)
	return p
}

// Backoff returns the wait after the given failed attempt (1-based),
// using u, a uniform random number in [0, 1), for the jitter.
func (p RetryPolicy) Backoff(attempt int, u float64) time.Duration {
	p = p.withDefaults()
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(attempt-1))
	d = min(d, float64(p.Max))
	d *= 1 - p.Jitter + 2*p.Jitter*u
	return time.Duration(d)
}

func defaultRand() float64 { return rand.Float64() }

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that the step is not retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was wrapped by [Permanent].
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
