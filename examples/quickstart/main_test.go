package main

import "testing"

// TestQuickstartRuns runs the README's first command in process, on a
// shorter stream, so that CI fails if the tour breaks.
func TestQuickstartRuns(t *testing.T) {
	if err := tour(2_000, 20_000); err != nil {
		t.Fatal(err)
	}
}
