package propagation

// Rounds returns how many rounds the dispatcher has run, and Parked
// whether it sleeps now: tests of parking read them.
func (b *Bus) Rounds() uint64 { return b.rounds.Load() }
func (b *Bus) Parked() bool   { return b.parked.Load() }
