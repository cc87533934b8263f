package main

import "testing"

// TestQuickstartRuns runs the README's first command in process, so that CI
// fails if the tour breaks.
func TestQuickstartRuns(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
