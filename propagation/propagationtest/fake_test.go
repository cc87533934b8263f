package propagationtest_test

import (
	"testing"

	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

func TestFakeConformance(t *testing.T) {
	propagationtest.TestPropagator(t, propagationtest.Features{Synchronous: true}, func(t *testing.T) propagation.Propagator {
		return propagationtest.New()
	})
}
