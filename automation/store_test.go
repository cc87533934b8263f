package automation_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/propagation/journal"
)

func TestJournalStoreConformance(t *testing.T) {
	automationtest.TestStore(t, func(t *testing.T) automation.Store {
		j, err := journal.Open(filepath.Join(t.TempDir(), "j"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.Close(context.Background()) })
		return automation.NewJournalStore(j)
	})
}
