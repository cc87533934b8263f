package semevent_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The wiring example starts a bus, a watcher and an engine: none may leak.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
