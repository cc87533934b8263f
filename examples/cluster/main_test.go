package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, t.TempDir(), 300); err != nil {
		t.Fatalf("%v; output so far:\n%s", err, out.String())
	}
	for _, want := range []string{
		"appended 300 events on node 1: all 3 nodes saw them in the same order\n",
		"killed the leader (node ",
		"the 2 live nodes saw all 600 in the same order (new leader node ",
		"caught up, all 3 nodes hold the same 600 events\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run output lacks %q; output:\n%s", want, out.String())
		}
	}
}
