package promexport_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics/promexport"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/cep"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/fusebridge"
)

// fill sets every numeric field of the struct *p to a distinct value from
// *next on, and a map of counts to two entries, and returns the values by
// field name.
func fill(t *testing.T, p any, next *float64) map[string]float64 {
	t.Helper()
	v := reflect.ValueOf(p).Elem()
	vals := map[string]float64{}
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		*next++
		switch {
		case f.Type == reflect.TypeOf(fusebridge.WatcherMode(0)):
			fv.Set(reflect.ValueOf(fusebridge.Fanotify))
			vals[f.Name] = 1 // exported as a 0/1 gauge
			continue
		case fv.CanUint():
			fv.SetUint(uint64(*next))
		case fv.CanInt():
			fv.SetInt(int64(*next))
		case fv.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Uint64:
			m := reflect.MakeMap(f.Type)
			for j, k := range []semevent.Kind{semevent.KindFileWrite, semevent.KindFileRead} {
				m.SetMapIndex(reflect.ValueOf(k).Convert(f.Type.Key()), reflect.ValueOf(uint64(*next)+uint64(j)*1000))
				vals[f.Name+"["+k.String()+"]"] = *next + float64(j)*1000
			}
			fv.Set(m)
			continue
		default:
			t.Fatalf("%s.%s has type %s, which the test does not know how to fill", v.Type(), f.Name, f.Type)
		}
		vals[f.Name] = *next
	}
	return vals
}

type scraped struct {
	value map[float64][]string // value -> metric keys
	help  map[string]string    // metric name -> help
}

func scrape(t *testing.T, c prometheus.Collector) scraped {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	s := scraped{value: map[float64][]string{}, help: map[string]string{}}
	for _, mf := range mfs {
		s.help[mf.GetName()] = mf.GetHelp()
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			s.value[v] = append(s.value[v], key)
		}
	}
	return s
}

// TestComponentSourcesExportEveryField fills every field of the bridge's,
// kernel watcher's, CEP engine's, rule engine's and executor's Stats with
// a distinct value and checks that a scrape of a real registry shows each
// one, under a name Names lists, with a help text that says what it
// counts. A field added to one of those Stats structs fails this test
// until the source exports it.
func TestComponentSourcesExportEveryField(t *testing.T) {
	var (
		next      float64 = 100 // above the 0/1 of the mode gauge
		bridge    fusebridge.Stats
		watcher   fusebridge.WatcherStats
		cepStats  cep.Stats
		ruleStats rules.Stats
		exec      automation.ExecutorStats
	)
	structs := []struct {
		name string
		p    any
	}{{"fusebridge.Stats", &bridge}, {"fusebridge.WatcherStats", &watcher}, {"cep.Stats", &cepStats}, {"rules.Stats", &ruleStats}, {"automation.ExecutorStats", &exec}}
	fields := map[string]map[string]float64{}
	for _, s := range structs {
		fields[s.name] = fill(t, s.p, &next)
	}
	typeDotField := regexp.MustCompile(`^[A-Z]\w*\.[A-Z]\w*\.?$`) // "Stats.Dropped." is not help
	c, err := promexport.New(&promexport.Options{
		Bridge:   func() fusebridge.Stats { return bridge },
		Watcher:  func() fusebridge.WatcherStats { return watcher },
		CEP:      func() cep.Stats { return cepStats },
		Rules:    func() rules.Stats { return ruleStats },
		Executor: func() automation.ExecutorStats { return exec },
	})
	if err != nil {
		t.Fatal(err)
	}
	got := scrape(t, c)
	names := promexport.Names()
	for _, s := range structs {
		sn := s.name
		for field, v := range fields[sn] {
			keys := got.value[v]
			if v == 1 { // the watcher mode gauge; other values are unique
				keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return !strings.Contains(k, "fanotify") })
			}
			if len(keys) != 1 {
				t.Errorf("%s.%s = %v is exported as %v, want exactly one metric", sn, field, v, keys)
			}
		}
	}
	for name, help := range got.help {
		if !slices.Contains(names, name) {
			t.Errorf("exported %s is not in Names()", name)
		}
		if len(help) < 12 || typeDotField.MatchString(help) || strings.Contains(help, "Stats.") {
			t.Errorf("%s has help %q; want a sentence saying what it counts", name, help)
		}
	}
}

// TestComponentSourcesReadRealComponents scrapes a registry over a real
// CEP engine, rule engine, workflow executor and kernel watcher after they
// handled events, and checks the values against their Stats.
func TestComponentSourcesReadRealComponents(t *testing.T) {
	ctx := context.Background()
	pub := &automationtest.Publisher{}

	ce, err := cep.New([]cep.Pattern{&cep.Sequence{Name: "create-write", Stages: []cep.Stage{
		{Kind: semevent.KindFileCreate}, {Kind: semevent.KindFileWrite}}, Within: time.Second}}, &cep.Options{Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close(ctx)
	for i, k := range []semevent.Kind{semevent.KindFileCreate, semevent.KindFileWrite, semevent.KindFileCreate} {
		if err := ce.Handle(ctx, &semevent.Event{ID: semevent.MakeID(uint64(i+1), 0, 0), Kind: k, Path: "/a", Time: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}

	rs, err := rules.ParseRuleSet([]byte("rules:\n  - name: big\n    when: Size > 10\n    then: [{action: emit}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	re, err := rules.New(rs, &rules.Options{Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close(ctx)
	for _, size := range []int64{5, 50, 500} {
		if err := re.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/b", Size: size}); err != nil {
			t.Fatal(err)
		}
	}

	wf, err := automation.NewFlow(automation.Flow{Name: "fail", Steps: []automation.Node{automation.Task("s", automation.Step{
		Do: func(context.Context, *automation.StepContext) ([]byte, error) {
			return nil, automation.Permanent(errors.New("no"))
		},
	})}})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{wf}})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close(ctx)
	ev := &semevent.Event{ID: semevent.MakeID(9, 0, 0), Kind: semevent.KindFileWrite, Path: "/c"}
	id, err := ex.Start(ctx, "fail", ev)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the execution to end", func() bool {
		info, ok := ex.Execution(id)
		return ok && info.Outcome != automation.Running
	})

	dir := t.TempDir()
	w, err := fusebridge.NewWatcher(pub, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watcher to publish", func() bool { return w.Stats().Published > 0 })

	opts := &promexport.Options{Watcher: w.Stats, CEP: ce.Stats, Rules: re.Stats, Executor: ex.Stats}
	if err := fusebridge.Available(); err != nil {
		t.Logf("no FUSE bridge in this run: %v", err)
	} else {
		opts.Bridge = mountBridge(t, pub).Stats
	}
	c, err := promexport.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// The bridge may still be publishing what the file's creation caused:
	// its counters are read before and after the scrape, which must lie
	// between them.
	var b0 fusebridge.Stats
	if opts.Bridge != nil {
		b0 = opts.Bridge()
	}
	got := gather(t, c)
	ws := w.Stats()
	for key, want := range map[string]float64{
		"semevent_cep_events_total":                                      3,
		"semevent_cep_matches_total":                                     1,
		"semevent_rules_events_total":                                    3,
		"semevent_rules_fired_total":                                     2,
		"semevent_rules_rules":                                           1,
		"semevent_workflow_executions_started_total":                     1,
		"semevent_workflow_executions_finished_total{outcome=failed}":    1,
		"semevent_workflow_executions_finished_total{outcome=succeeded}": 0,
		"semevent_fuse_watcher_watched_dirs":                             float64(ws.Dirs),
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if opts.Bridge != nil {
		b1 := opts.Bridge()
		if v := got["semevent_fuse_bridge_published_total"]; v < float64(max(b0.Published, 1)) || v > float64(b1.Published) {
			t.Errorf("semevent_fuse_bridge_published_total = %v, want between %d (> 0) and %d", v, b0.Published, b1.Published)
		}
		c0, c1 := b0.Ops[semevent.KindFileCreate], b1.Ops[semevent.KindFileCreate]
		if v := got["semevent_fuse_bridge_ops_total{kind=create}"]; v < float64(max(c0, 1)) || v > float64(c1) {
			t.Errorf("semevent_fuse_bridge_ops_total{kind=create} = %v, want between %d (> 0) and %d", v, c0, c1)
		}
	}
	if v := got["semevent_fuse_watcher_published_total"]; v < 1 || v > float64(w.Stats().Published) {
		t.Errorf("semevent_fuse_watcher_published_total = %v, want between 1 and %d", v, w.Stats().Published)
	}
}

// mountBridge mounts a FUSE bridge over a temporary directory, creates a
// file through it, and waits until the bridge published its events.
func mountBridge(t *testing.T, pub semevent.Publisher) *fusebridge.Bridge {
	t.Helper()
	backing, mnt := t.TempDir(), t.TempDir()
	br, err := fusebridge.New(pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, err := br.NewLoopbackRoot(backing)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fusebridge.MountFS(mnt, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := semevent.CloseAll(context.Background(), m, br); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := os.WriteFile(filepath.Join(mnt, "f"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := br.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bridge to publish", func() bool { return br.Stats().Published > 0 })
	return br
}

// waitFor polls cond until it holds, failing the test if it never does
// (the bound only keeps a broken component from hanging the test run).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
