package propagation_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBusConformance(t *testing.T) {
	propagationtest.TestPropagator(t, propagationtest.Features{}, func(t *testing.T) propagation.Propagator {
		b, err := propagation.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
