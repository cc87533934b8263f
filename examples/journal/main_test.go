package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, t.TempDir(), 1000, 990); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"appended 1000 events at offsets 0..999\n",
		"reopened cleanly: no torn tail\n",
		"replayed 10 events from offset 990: first offset 990 /data/file-090.txt seq=990, last offset 999 /data/file-099.txt seq=999\n",
		`consumer "summary" handled 1000 events, resumes at offset 1000` + "\n",
		"offsets 0..999\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run output lacks %q; output:\n%s", want, out.String())
		}
	}
}
