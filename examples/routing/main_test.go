package main

import (
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out strings.Builder
	name := filepath.Join(t.TempDir(), "rules.yaml")
	if err := run(&out, name); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"rule set version 2",
		"tenant.globex.fs.file.delete   /data/old.csv        -> [audit]",
		"file changed: rule set version 3",
		"-> [cold-storage indexer-",
		"tenant.globex.fs.file.write    /home/k.pem          -> [dlp]",
		`rule 0 ("broken-subject"): Subject at byte 7: ">" must be the last token`,
		`rule 1 ("broken-condition"): When at byte`,
		"still routing with version 3",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
