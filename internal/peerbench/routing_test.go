package peerbench

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/routing"
)

// routeSubjects returns n subscription subjects, ten per tenant:
// literals, '*' in the middle and first position, and '>' tails.
func routeSubjects(n int) []string {
	var subs []string
	for t := 0; len(subs) < n; t++ {
		tn := fmt.Sprintf("t%d", t)
		subs = append(subs,
			"tenant."+tn+".fs.file.write",
			"tenant."+tn+".fs.>",
			"tenant."+tn+".fs.file.*",
			"tenant."+tn+".fs.dir.*",
			"tenant."+tn+".semantic.>",
			"tenant."+tn+".fs.file.create",
			"tenant."+tn+".fs.file.delete",
			"*."+tn+".fs.file.write",
			"tenant."+tn+".>",
			"tenant."+tn+".fs.file.read",
		)
	}
	return subs[:n]
}

// routeTopics returns m event subjects over the tenants of n
// subscriptions: writes, reads, creates and closes of random tenants.
func routeTopics(n, m int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	tenants := max(n/10, 1)
	kinds := []string{"write", "write", "read", "create", "close"}
	out := make([]string, m)
	for i := range out {
		out[i] = fmt.Sprintf("tenant.t%d.fs.file.%s", r.IntN(tenants), kinds[r.IntN(len(kinds))])
	}
	return out
}

// semeventRouter is a routing.Table with one subject-only rule per
// subscription, each to its own destination.
func semeventRouter(tb testing.TB, subjects []string, opts *routing.Options) *routing.Table {
	rs := &routing.RuleSet{Rules: make([]routing.Rule, len(subjects))}
	for i, s := range subjects {
		rs.Rules[i] = routing.Rule{Subject: s, To: []string{fmt.Sprint("s", i)}}
	}
	tab, err := routing.New(rs, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return tab
}

// routeEvents wraps the topics in events: the path is the same for all, so
// that the router's (topic, path) decision cache holds one entry per
// subject, as NATS's cache does.
func routeEvents(topics []string) []*semevent.Event {
	evs := make([]*semevent.Event, len(topics))
	for i, t := range topics {
		evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Topic: t, Path: "/data/x", Size: payloadSize}
	}
	return evs
}

// natsSublists starts an embedded NATS server, subscribes to every subject
// over one in-process connection, and returns the account's sublist (the
// server's own, with its cache) and a copy without cache. The sublist's
// Insert takes the server's unexported subscription type, so the
// subscriptions come from a real connection; the account's sublist is read
// by reflection, and the copy is filled through the exported All and
// Insert methods called by reflection.
func natsSublists(tb testing.TB, subjects []string) (cached, uncached *server.Sublist, stop func()) {
	ns, err := server.NewServer(&server.Options{NoLog: true, NoSigs: true, DontListen: true, MaxSubs: 0})
	if err != nil {
		tb.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range subjects {
		if _, err := nc.SubscribeSync(s); err != nil {
			tb.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		tb.Fatal(err)
	}
	f := reflect.ValueOf(ns.GlobalAccount()).Elem().FieldByName("sl")
	cached = *(**server.Sublist)(unsafe.Pointer(f.UnsafeAddr()))
	// The server adds a few subscriptions of its own ($SYS, inboxes);
	// none of them matches a tenant subject (TestRoutingAgrees).
	if got := cached.Count(); got < uint32(len(subjects)) || got > uint32(len(subjects))+16 {
		tb.Fatalf("nats sublist has %d subscriptions, want %d and a few of the server's", got, len(subjects))
	}
	uncached = server.NewSublistNoCache()
	all := reflect.ValueOf(cached).MethodByName("All")
	subs := reflect.New(all.Type().In(0).Elem())
	all.Call([]reflect.Value{subs})
	insert := reflect.ValueOf(uncached).MethodByName("Insert")
	for i := range subs.Elem().Len() {
		if err := insert.Call([]reflect.Value{subs.Elem().Index(i)})[0]; !err.IsNil() {
			tb.Fatal(err.Interface())
		}
	}
	return cached, uncached, func() {
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// natsMatches is the number of plain subscriptions in a match result.
func natsMatches(r *server.SublistResult) int {
	return reflect.ValueOf(r).Elem().FieldByName("psubs").Len()
}

var routeSizes = []int{1000, 10000}

// routeContenders names the rows of BenchmarkRouting, for TestNotes.
var routeContenders = []struct{ name, note string }{
	{"semevent", "routing.Table.Route, one subject rule per subscription, default options"},
	{"semevent-nodecisioncache", "the same with Options.NoDecisionCache (the per-subject entry cache stays)"},
	{"nats", "the server's own account sublist (filled by real subscriptions), Match, with its cache"},
	{"nats-nocache", "the same subscriptions in a sublist without cache"},
}

// routeCycle is the number of distinct event subjects the benchmarks cycle
// through.
const routeCycle = 4096

var sinkResult *server.SublistResult

// BenchmarkRouting matches a cycle of 4096 event subjects against n
// subscriptions. semevent: routing.Table.Route with one subject rule per
// subscription; nats: the server's own sublist Match (with its cache of
// 1024 subjects), nats-nocache: a sublist without cache,
// semevent-nodecisioncache: Options.NoDecisionCache (its per-subject
// entry cache stays on).
func BenchmarkRouting(b *testing.B) {
	for _, n := range routeSizes {
		subjects := routeSubjects(n)
		topics := routeTopics(n, routeCycle)
		evs := routeEvents(topics)
		name := fmt.Sprintf("subs=%dk", n/1000)
		for _, c := range []struct {
			name string
			opts *routing.Options
		}{{"semevent", nil}, {"semevent-nodecisioncache", &routing.Options{NoDecisionCache: true}}} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				tab := semeventRouter(b, subjects, c.opts)
				buf := make([]string, 0, 16)
				for _, ev := range evs {
					buf = tab.Route(ev, buf[:0])
				}
				m := 0
				for _, ev := range evs {
					m += len(tab.Route(ev, buf[:0]))
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					buf = tab.Route(evs[i&(routeCycle-1)], buf[:0])
					i++
				}
				b.ReportMetric(float64(m)/float64(len(evs)), "matches/op")
				reportRate(b, float64(i), "events/s")
			})
		}
		cached, uncached, stop := natsSublists(b, subjects)
		for _, c := range []struct {
			name string
			sl   *server.Sublist
		}{{"nats", cached}, {"nats-nocache", uncached}} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				for _, t := range topics {
					c.sl.Match(t)
				}
				// Count the matches outside the timed loop: reading the
				// result's unexported field takes reflection, which is
				// not NATS's cost.
				m := 0
				for _, t := range topics {
					m += natsMatches(c.sl.Match(t))
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					sinkResult = c.sl.Match(topics[i&(routeCycle-1)])
					i++
				}
				b.ReportMetric(float64(m)/float64(len(topics)), "matches/op")
				reportRate(b, float64(i), "events/s")
			})
		}
		stop()
	}
}
