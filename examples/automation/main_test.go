package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAutomationRuns runs the example in process, so that CI fails if it
// breaks, or leaks a goroutine.
func TestAutomationRuns(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
