package propagation_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(envClusterNode); cfg != "" { // re-executed by TestClusterProcessKills
		os.Exit(runClusterNode(cfg))
	}
	goleak.VerifyTestMain(m)
}

func TestBusConformance(t *testing.T) {
	propagationtest.TestPropagator(t, propagationtest.Features{}, func(t *testing.T) propagation.Propagator {
		b, err := propagation.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
