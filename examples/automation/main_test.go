package main

import "testing"

// TestAutomationRuns runs the example in process, so that CI fails if it
// breaks.
func TestAutomationRuns(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
