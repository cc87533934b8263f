package automation

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if restartChild() || outboxChild() {
		return
	}
	goleak.VerifyTestMain(m)
}
