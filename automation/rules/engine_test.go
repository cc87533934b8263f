package rules_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// fired records rule firings.
type fired struct {
	mu    sync.Mutex
	rules []string
}

func (f *fired) action(_ context.Context, fr *rules.Firing) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, fr.Rule+":"+fr.Params["tag"])
	return nil
}

func (f *fired) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rules
	f.rules = nil
	return r
}

func TestRulesFire(t *testing.T) {
	var f fired
	rs := &rules.RuleSet{Rules: []rules.Rule{
		{Name: "big-write", When: `Kind == "write" && Size > 1000`, Kinds: []semevent.Kind{semevent.KindFileWrite}, Then: []rules.ActionRef{{Action: "rec", Params: map[string]string{"tag": "w"}}}},
		{Name: "inbox-pdf", When: `Path startsWith "/inbox/" && Path endsWith ".pdf"`, Then: []rules.ActionRef{{Action: "rec"}}},
		{Name: "acme", Filter: filter.Tenants("acme"), Then: []rules.ActionRef{{Action: "rec"}}},
		{Name: "off", When: `true`, Disabled: true, Then: []rules.ActionRef{{Action: "rec"}}},
		{Name: "attr", When: `Attr("owner") == "bob"`, Kinds: []semevent.Kind{semevent.KindFileCreate, semevent.KindFileWrite}, Then: []rules.ActionRef{{Action: "rec"}}},
	}}
	e, err := rules.New(rs, &rules.Options{Actions: map[string]rules.ActionFunc{"rec": f.action}})
	require.NoError(t, err)
	tests := []struct {
		ev   semevent.Event
		want []string
	}{
		{semevent.Event{Kind: semevent.KindFileWrite, Size: 5000, Path: "/x"}, []string{"big-write:w"}},
		{semevent.Event{Kind: semevent.KindFileWrite, Size: 10, Path: "/x"}, nil},
		{semevent.Event{Kind: semevent.KindFileCreate, Size: 5000, Path: "/inbox/a.pdf"}, []string{"inbox-pdf:"}},
		{semevent.Event{Kind: semevent.KindFileWrite, Size: 5000, Path: "/inbox/a.pdf", Tenant: "acme"}, []string{"inbox-pdf:", "acme:", "big-write:w"}},
		{semevent.Event{Kind: semevent.KindFileCreate, Attrs: []semevent.Attr{{Key: "owner", Value: "bob"}}}, []string{"attr:"}},
		{semevent.Event{Kind: semevent.KindFileDelete, Attrs: []semevent.Attr{{Key: "owner", Value: "bob"}}}, nil},
	}
	for _, tt := range tests {
		require.NoError(t, e.Handle(context.Background(), &tt.ev))
		if got := f.take(); !equalStrings(got, tt.want) {
			t.Errorf("Handle(%v %s size %d) fired %q, want %q", tt.ev.Kind, tt.ev.Path, tt.ev.Size, got, tt.want)
		}
		matched := e.Match(&tt.ev, nil)
		require.Len(t, matched, len(tt.want))
	}
	st := e.Stats()
	require.Equal(t, uint64(len(tests)), st.Events)
	require.Equal(t, 4, st.Rules)
	require.Equal(t, uint64(6), st.Fired)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRuleErrors(t *testing.T) {
	e, err := rules.New(nil, nil)
	require.NoError(t, err)
	err = e.Load(&rules.RuleSet{Rules: []rules.Rule{
		{Name: "syntax", When: `Size >`, Then: []rules.ActionRef{{Action: "emit"}}},
		{Name: "type", When: `Path + 1 == 2`, Then: []rules.ActionRef{{Action: "emit"}}},
		{Name: "notbool", When: `Size`, Then: []rules.ActionRef{{Action: "emit"}}},
		{Name: "noact", When: `true`, Then: []rules.ActionRef{{Action: "page-oncall"}}},
		{Name: "syntax", Then: []rules.ActionRef{{Action: "emit"}}},
		{Name: "empty"},
	}})
	require.ErrorIs(t, err, automation.ErrBadRule)
	require.ErrorIs(t, err, rules.ErrUnknownAction)
	require.ErrorIs(t, err, filter.ErrNotBool)
	for _, want := range []string{
		"rule syntax: when", "line 1, column", "rule type: when", "rule notbool: when",
		`rule noact: then[0].action: automation/rules: unknown action "page-oncall"`,
		"rule syntax: name: duplicate rule name", "rule empty: then: no actions",
	} {
		require.Contains(t, err.Error(), want)
	}
	var xe *filter.ExprError
	require.ErrorAs(t, err, &xe)
	require.Equal(t, "syntax", func() string {
		var re *automation.RuleError
		errors.As(err, &re)
		return re.Rule
	}())
	require.Equal(t, uint64(1), e.Stats().ReloadErrors)
	require.Equal(t, 0, e.Stats().Rules)

	_, err = rules.New(nil, &rules.Options{Actions: map[string]rules.ActionFunc{"emit": nil, "": nil}})
	var oe *semevent.OptionsError
	require.ErrorAs(t, err, &oe)
	require.Len(t, oe.Problems, 2)
}

const rulesYAML = `
rules:
  - name: big-write
    when: Kind == "write" && Size > 1000
    kinds: [write]
    then:
      - action: emit
        params: {severity: high}
`

const rulesJSON = `{"rules": [{"name": "deletes", "when": "Kind == \"delete\"", "then": [{"action": "emit"}]}]}`

func TestRuleFilesAndEmit(t *testing.T) {
	bus := propagationtest.New()
	defer bus.Close(context.Background())
	e, err := rules.New(nil, &rules.Options{Publisher: bus})
	require.NoError(t, err)
	// The engine subscribes to the bus like any handler.
	_, err = bus.Subscribe(e, &propagation.SubscribeOptions{Name: "rules", Filter: filter.Not(filter.Kinds(semevent.KindRuleFired))})
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range []struct{ name, body string }{{"r.yaml", rulesYAML}, {"r.json", rulesJSON}} {
		p := filepath.Join(dir, f.name)
		require.NoError(t, os.WriteFile(p, []byte(f.body), 0o644))
		require.NoError(t, e.LoadFile(p))
	}
	ctx := context.Background()
	write := &semevent.Event{Kind: semevent.KindFileWrite, Size: 5000, Path: "/a", Tenant: "t"}
	del := &semevent.Event{Kind: semevent.KindFileDelete, Path: "/a", Tenant: "t"}
	require.NoError(t, bus.Publish(ctx, write))
	require.NoError(t, bus.Publish(ctx, del))
	var firedEvents []*semevent.Event
	for _, ev := range bus.Published() {
		if ev.Kind == semevent.KindRuleFired {
			firedEvents = append(firedEvents, ev)
		}
	}
	require.Len(t, firedEvents, 1, "only the JSON set (loaded last) is active")
	rule, _ := firedEvents[0].Attr(rules.AttrRule)
	require.Equal(t, "deletes", rule)
	require.Equal(t, del.ID, firedEvents[0].Cause)
	require.Equal(t, "t", firedEvents[0].Tenant)

	_, err = rules.ParseRuleSet([]byte("rules:\n  - name: x\n    whne: true\n"))
	require.ErrorIs(t, err, automation.ErrBadRule)
	require.Contains(t, err.Error(), "line 3")
}

func TestWatchHotReload(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(p, []byte(rulesYAML), 0o644))
	errs := make(chan error, 4)
	pub := &automationtest.Publisher{}
	e, err := rules.New(nil, &rules.Options{Publisher: pub, OnError: func(err error) { errs <- err }})
	require.NoError(t, err)
	ctx := context.Background()
	w, err := rules.Watch(ctx, e, p, &rules.WatchOptions{Interval: time.Millisecond})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Close(ctx)) }()
	require.Equal(t, uint64(1), e.Stats().Reloads) // the first load is synchronous

	// A bad change is reported (to the engine's OnError) and the old set stays.
	require.NoError(t, writeAtomic(p, []byte("rules:\n  - name: bad\n    when: Size >\n    then: [{action: emit}]\n")))
	err = <-errs
	require.ErrorIs(t, err, automation.ErrBadRule)
	require.Contains(t, err.Error(), "rule bad: when")
	require.Equal(t, 1, e.Stats().Rules)

	// An emptied (truncated) file is refused: the rules stay.
	require.NoError(t, writeAtomic(p, nil))
	require.ErrorIs(t, <-errs, semevent.ErrEmptyFile)
	require.Equal(t, 1, e.Stats().Rules)

	require.NoError(t, writeAtomic(p, []byte(rulesJSON)))
	require.Eventually(t, func() bool { return e.Stats().Reloads == 2 }, 10*time.Second, time.Millisecond)
	require.NoError(t, e.Handle(ctx, &semevent.Event{Kind: semevent.KindFileDelete}))
	require.Len(t, pub.Events(), 1)
	require.Equal(t, rules.WatchStats{Reloads: 1, Errors: 2}, w.Stats())
}

// TestWatchRefusesUnsafeFile: a group-writable rule file is refused
// before the first load (issue 18 item 24's check, shared with routing).
func TestWatchRefusesUnsafeFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(p, []byte(rulesYAML), 0o644))
	require.NoError(t, os.Chmod(p, 0o664))
	e, err := rules.New(nil, nil)
	require.NoError(t, err)
	_, err = rules.Watch(context.Background(), e, p, nil)
	require.ErrorIs(t, err, semevent.ErrUnsafeFile)
	require.Equal(t, 0, e.Stats().Rules)
}

// writeAtomic replaces the file at p, as a watched rule file should be
// replaced: write a temporary file and rename it.
func writeAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func TestStartWorkflowAction(t *testing.T) {
	ran := make(chan string, 2)
	wf := automation.NewWorkflow("index", nil, func(r *automation.Run) error {
		ran <- r.Event().Path
		return nil
	})
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}})
	rs, err := rules.ParseRuleSet([]byte(`
rules:
  - name: index-pdfs
    when: Path endsWith ".pdf"
    then: [{action: start, params: {workflow: index}}]
  - name: broken
    when: Path endsWith ".bad"
    then: [{action: start, params: {workflow: nosuch}}]
`))
	require.NoError(t, err)
	e, err := rules.New(rs, &rules.Options{Actions: map[string]rules.ActionFunc{"start": rules.StartWorkflow(ex)}})
	require.NoError(t, err)
	ev := newEvent("", "/a.pdf")
	require.NoError(t, e.Handle(context.Background(), ev))
	require.NoError(t, e.Handle(context.Background(), ev)) // redelivered: no second execution
	require.Equal(t, "/a.pdf", <-ran)
	err = e.Handle(context.Background(), newEvent("", "/x.bad"))
	require.ErrorIs(t, err, automation.ErrUnknownWorkflow)
	wait(t, ex, automation.ExecutionID("index", ev))
	require.Equal(t, uint64(1), ex.Stats().Started)
}
