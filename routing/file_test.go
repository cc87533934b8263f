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
	rs, err := routing.ParseRuleSet([]byte(yamlRules))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 2 || rs.Groups[0].Strategy != routing.Hash || rs.Rules[1].When != "Size > 100" {
		t.Fatalf("parsed %+v", rs)
	}
	// JSON is YAML: compact and tab-indented documents both parse.
	for _, js := range []string{
		`{"rules": [{"name": "x", "subject": "fs.>", "to": ["a"]}]}`,
		"{\n\t\"rules\": [\n\t\t{\"name\": \"x\",\n\t\t \"subject\": \"fs.>\", \"to\": [\"a\"]}\n\t]\n}\n",
	} {
		if rs, err := routing.ParseRuleSet([]byte(js)); err != nil || rs.Rules[0].Subject != "fs.>" {
			t.Fatalf("ParseRuleSet(%q) = %+v, %v", js, rs, err)
		}
	}
	if rs, err := routing.ParseRuleSet(nil); err != nil || len(rs.Rules) != 0 {
		t.Errorf("ParseRuleSet(nil) = %+v, %v, want an empty rule set", rs, err)
	}
	for _, tt := range []struct{ data, msg string }{
		{`{"rules": [}`, "did not find expected node content"},
		{`{"rulez": []}`, "field rulez not found"},
		{"rules:\n  - nme: x\n", "line 2: field nme not found"},
		{"rules: 3", "cannot unmarshal"},
	} {
		_, err := routing.ParseRuleSet([]byte(tt.data))
		if !errors.Is(err, routing.ErrInvalidRuleSet) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseRuleSet(%q) error = %v, want one containing %q", tt.data, err, tt.msg)
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
	defer w.Close(context.Background())
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

// TestWatchRefusesEmptyFile is issue 18 item 21b: a hot reload of a
// truncated file used to load an empty rule set, routing every event
// nowhere. Now it is refused, counted and reported, and the old rules stay.
func TestWatchRefusesEmptyFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(name, []byte("rules:\n  - {subject: \"fs.>\", to: [v1]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tab, err := routing.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 10)
	w, err := routing.Watch(context.Background(), tab, name, &routing.WatchOptions{
		Interval: time.Millisecond,
		OnError:  func(err error) { errs <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, semevent.ErrEmptyFile) {
			t.Errorf("reload of an empty file: %v, want ErrEmptyFile", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error for an emptied file")
	}
	ev := &semevent.Event{Kind: semevent.KindFileWrite}
	if got := tab.Route(ev, nil); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("after the file was emptied: routes %v, want the old rules [v1]", got)
	}
	if s := w.Stats(); s.Errors != 1 {
		t.Errorf("Stats() = %+v, want 1 error", s)
	}
}

// TestWatchRefusesWritableFile is issue 18 item 24: reloads run with the
// authority captured by Watch, so a file others may write is refused.
func TestWatchRefusesWritableFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(name, []byte("rules:\n  - {subject: \"fs.>\", to: [v1]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, 0o666); err != nil {
		t.Fatal(err)
	}
	tab, err := routing.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := routing.Watch(context.Background(), tab, name, nil); !errors.Is(err, semevent.ErrUnsafeFile) {
		t.Fatalf("Watch of a world-writable file = %v, want ErrUnsafeFile", err)
	}
	if got := tab.Route(&semevent.Event{Kind: semevent.KindFileWrite}, nil); len(got) != 0 {
		t.Errorf("the refused file was loaded: routes %v", got)
	}
}
