// Package filter decides which events are wanted: [Filter] is the one
// interface every predicate implements, from a plain [Func] to compiled
// expr conditions.
package filter
