package journal

import "time"

// SetFlushTicker makes journals opened from now on pace their periodic
// writes by c instead of a real ticker; restore undoes it.
func SetFlushTicker(c <-chan time.Time) (restore func()) {
	old := newFlushTicker
	newFlushTicker = func(time.Duration) (<-chan time.Time, func()) { return c, func() {} }
	return func() { newFlushTicker = old }
}
