// Package breaker is a circuit breaker: after a number of consecutive
// failures it opens and fails calls fast with [ErrCircuitOpen], then lets
// one probe through (half-open), whose outcome closes or reopens it.
//
// The workflow executor of package automation keeps one [Breaker] per
// step action (automation.Step.Action), configured by
// automation.ExecutorOptions.Breaker; use [New] directly to guard any
// other call:
//
//	b, err := breaker.New(&breaker.Options{Failures: 5, OpenFor: 30 * time.Second})
//	if err := b.Allow(); err != nil {
//		return err // breaker.ErrCircuitOpen
//	}
//	err = call()
//	b.Done(err)
//
// # Concurrency
//
// A Breaker is safe for concurrent use. It starts no goroutines.
//
// # Errors
//
// [New] returns *semevent.OptionsError (wrapping semevent.ErrInvalidOptions)
// for invalid [Options]; [Breaker.Allow] returns [ErrCircuitOpen].
package breaker
