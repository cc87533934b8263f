package routing_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/routing"
)

const yamlRules = `
groups:
  - name: indexers
    members: [idx-1, idx-2]
    strategy: hash
    key: path
rules:
  - name: logs
    subject: "fs.file.*"
    path: "/data/**/*.log"
    to: [indexers]
  - name: big
    subject: fs.file.write
    when: Size > 100
    to: [big]
`

func TestParseRuleSet(t *testing.T) {
	rs, err := routing.ParseRuleSet([]byte(yamlRules), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 2 || rs.Groups[0].Strategy != routing.Hash || rs.Rules[1].When != "Size > 100" {
		t.Fatalf("parsed %+v", rs)
	}
	js := `{"rules": [{"name": "x", "subject": "fs.>", "to": ["a"]}]}`
	if rs, err := routing.ParseRuleSet([]byte(js), "json"); err != nil || rs.Rules[0].Subject != "fs.>" {
		t.Fatalf("json: %+v, %v", rs, err)
	}
	for _, tt := range []struct{ data, format, msg string }{
		{`{"rules": [}`, "json", "invalid character"},
		{`{"rulez": []}`, "json", "unknown field"},
		{"rules:\n  - nme: x\n", "yaml", "field nme not found"},
		{"x", "toml", "unknown format"},
	} {
		_, err := routing.ParseRuleSet([]byte(tt.data), tt.format)
		if !errors.Is(err, routing.ErrInvalidRuleSet) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseRuleSet(%q, %s) error = %v, want one containing %q", tt.data, tt.format, err, tt.msg)
		}
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "rules.yaml")
	write := func(s string) {
		tmp := name + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil {
			t.Fatal(err)
		}
	}
	write("rules:\n  - {subject: \"fs.>\", to: [v1]}\n")
	tab, err := routing.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reloads := make(chan uint64, 10)
	errs := make(chan error, 10)
	w, err := routing.Watch(context.Background(), tab, name, &routing.WatchOptions{
		Interval: 5 * time.Millisecond,
		OnReload: func(v uint64) { reloads <- v },
		OnError:  func(err error) { errs <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := &semevent.Event{Kind: semevent.KindFileWrite}
	if got := tab.Route(ev, nil); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("after Watch: %v", got)
	}
	write("rules:\n  - {subject: \"fs.>\", to: [v2]}\n")
	select {
	case <-reloads:
	case <-time.After(10 * time.Second):
		t.Fatal("no reload after the file changed")
	}
	if got := tab.Route(ev, nil); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("after reload: %v", got)
	}
	write("rules:\n  - {subject: \"fs..x\", to: [v3]}\n")
	select {
	case err := <-errs:
		var rse *routing.RuleSetError
		if !errors.As(err, &rse) || rse.Source != name {
			t.Errorf("watch error %v, want *RuleSetError naming the file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error for an invalid file")
	}
	if got := tab.Route(ev, nil); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("after invalid file: %v, want the old rules", got)
	}
	if _, err := routing.Watch(context.Background(), tab, filepath.Join(dir, "missing.yaml"), nil); err == nil {
		t.Errorf("Watch of a missing file succeeded")
	}
}
