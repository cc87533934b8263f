package peerbench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	evbus "github.com/asaskevich/EventBus"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
)

// A propRig is one contender set up with pubs publishers and subs
// subscribers, each subscriber receiving every event of every publisher.
type propRig interface {
	// sink is where the subscribers count what they receive.
	sink() *sink
	// run makes each publisher send per events, concurrently, and returns
	// once every subscriber has received all pubs*per of them.
	run(per int) error
	close()
}

type propContender struct {
	name string
	note string // what the row means, for BENCHMARKS.md
	make func(tb testing.TB, pubs, subs int, want int64) propRig
}

var propContenders = []propContender{
	{"chan", "buffered Go channels, one per subscriber (the floor)", newChanRig},
	{"semevent", "propagation.Bus, default options (Block policy)", newBusRig},
	{"watermill", "gochannel, default config: one goroutine per message and subscriber, no order guarantee; window of 4096 in flight", newWatermillRig(false)},
	{"watermill-ack", "gochannel with BlockPublishUntilSubscriberAck (ordered)", newWatermillRig(true)},
	{"nats", "nats-server embedded, nats.go over an in-process pipe, one connection per client; window of 4096 in flight", newNATSRig(false)},
	{"nats-tcp", "as nats, over loopback TCP", newNATSRig(true)},
	{"eventbus-async", "EventBus SubscribeAsync(transactional): a goroutine per event and handler, one at a time per handler", newEventBusRig(true)},
	{"eventbus-sync", "EventBus Subscribe: handlers run in the publisher's goroutine, under the bus lock", newEventBusRig(false)},
}

var propShapes = []struct{ pubs, subs int }{{1, 1}, {1, 4}, {4, 4}}

// BenchmarkPropagation publishes b.N events (b.N/pubs per publisher) and
// waits until each subscriber has received all of them. events/s counts
// published events, deliveries/s handler calls.
func BenchmarkPropagation(b *testing.B) {
	for _, sh := range propShapes {
		for _, c := range propContenders {
			b.Run(fmt.Sprintf("%dx%d/%s", sh.pubs, sh.subs, c.name), func(b *testing.B) {
				per := max(b.N/sh.pubs, 1)
				want := int64(per * sh.pubs)
				r := c.make(b, sh.pubs, sh.subs, want)
				defer r.close()
				b.ReportAllocs()
				b.ResetTimer()
				if err := r.run(per); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				reportRate(b, float64(want), "events/s")
				reportRate(b, float64(want*int64(sh.subs)), "deliveries/s")
			})
		}
	}
}

// publishers runs pubs goroutines, each calling pub(p) and returns the
// first error.
func publishers(pubs int, pub func(p int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, pubs)
	for p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = pub(p)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// chan

type chanRig struct {
	pubs  int
	s     *sink
	chans []chan *semevent.Event
	wg    sync.WaitGroup
}

func newChanRig(tb testing.TB, pubs, subs int, want int64) propRig {
	r := &chanRig{pubs: pubs, s: newSink(subs, want), chans: make([]chan *semevent.Event, subs)}
	for i := range r.chans {
		ch := make(chan *semevent.Event, propagation.DefaultBuffer)
		r.chans[i] = ch
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for ev := range ch {
				r.s.got(i, ev.Data)
			}
		}()
	}
	return r
}

func (r *chanRig) run(per int) error {
	err := publishers(r.pubs, func(int) error {
		ev := benchEvent()
		var next time.Time
		for range per {
			e := r.s.event(ev, &next)
			for _, ch := range r.chans {
				ch <- e
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.s.wait(timeout)
}

func (r *chanRig) sink() *sink { return r.s }

func (r *chanRig) close() {
	for _, ch := range r.chans {
		close(ch)
	}
	r.wg.Wait()
}

// semevent

type busRig struct {
	pubs int
	s    *sink
	bus  *propagation.Bus
	tb   testing.TB
}

func newBusRig(tb testing.TB, pubs, subs int, want int64) propRig {
	bus, err := propagation.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := &busRig{pubs: pubs, s: newSink(subs, want), bus: bus, tb: tb}
	for i := range subs {
		_, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
			r.s.got(i, ev.Data)
			return nil
		}), &propagation.SubscribeOptions{Name: fmt.Sprint("s", i)})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

func (r *busRig) run(per int) error {
	ctx := context.Background()
	err := publishers(r.pubs, func(int) error {
		ev := benchEvent()
		var next time.Time
		for range per {
			if err := r.bus.Publish(ctx, r.s.event(ev, &next)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.s.wait(timeout)
}

func (r *busRig) sink() *sink { return r.s }

func (r *busRig) close() {
	if err := r.bus.Close(context.Background()); err != nil {
		r.tb.Error(err)
	}
	if st := r.bus.Stats(); st.Dropped.Total() != 0 {
		r.tb.Errorf("bus dropped %+v", st.Dropped)
	}
}

// watermill

type watermillRig struct {
	pubs int
	s    *sink
	w    *window // nil when Publish waits for the acks
	gc   *gochannel.GoChannel
	wg   sync.WaitGroup
}

func newWatermillRig(block bool) func(tb testing.TB, pubs, subs int, want int64) propRig {
	return func(tb testing.TB, pubs, subs int, want int64) propRig {
		gc := gochannel.NewGoChannel(gochannel.Config{
			OutputChannelBuffer:            propagation.DefaultBuffer,
			BlockPublishUntilSubscriberAck: block,
		}, watermill.NopLogger{})
		r := &watermillRig{pubs: pubs, s: newSink(subs, want), gc: gc}
		if !block {
			r.w = newWindow(r.s, subs)
		}
		for i := range subs {
			msgs, err := gc.Subscribe(context.Background(), topic)
			if err != nil {
				tb.Fatal(err)
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				for m := range msgs {
					r.s.got(i, m.Payload)
					m.Ack()
				}
			}()
		}
		return r
	}
}

func (r *watermillRig) run(per int) error {
	err := publishers(r.pubs, func(p int) error {
		// A preset UUID, as the semevent event's ID is preset; a new
		// message per publish, since a message carries its own ack state.
		id := watermill.NewUUID()
		payload := make([]byte, payloadSize)
		var next time.Time
		for i := range per {
			if err := r.gc.Publish(topic, message.NewMessage(id, r.s.bytes(payload, &next))); err != nil {
				return err
			}
			if r.w != nil && (i+1)%windowStep == 0 {
				r.w.published(windowStep)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.s.wait(timeout)
}

func (r *watermillRig) sink() *sink { return r.s }

func (r *watermillRig) close() {
	r.gc.Close()
	r.wg.Wait()
}

// NATS

type natsRig struct {
	pubs  int
	s     *sink
	w     *window
	ns    *server.Server
	conns []*nats.Conn // publishers first
	errs  chan error
}

func newNATSRig(tcp bool) func(tb testing.TB, pubs, subs int, want int64) propRig {
	return func(tb testing.TB, pubs, subs int, want int64) propRig {
		opts := &server.Options{NoLog: true, NoSigs: true, DontListen: !tcp, Host: "127.0.0.1", Port: -1}
		ns, err := server.NewServer(opts)
		if err != nil {
			tb.Fatal(err)
		}
		ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			tb.Fatal("nats server not ready")
		}
		r := &natsRig{pubs: pubs, s: newSink(subs, want), ns: ns, errs: make(chan error, 16)}
		r.w = newWindow(r.s, subs)
		connect := func() *nats.Conn {
			o := []nats.Option{nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				select {
				case r.errs <- err:
				default:
				}
			})}
			url := ns.ClientURL()
			if !tcp {
				o = append(o, nats.InProcessServer(ns))
				url = ""
			}
			nc, err := nats.Connect(url, o...)
			if err != nil {
				tb.Fatal(err)
			}
			r.conns = append(r.conns, nc)
			return nc
		}
		for range pubs {
			connect()
		}
		for i := range subs {
			nc := connect()
			sub, err := nc.Subscribe(topic, func(m *nats.Msg) { r.s.got(i, m.Data) })
			if err != nil {
				tb.Fatal(err)
			}
			if err := sub.SetPendingLimits(-1, -1); err != nil {
				tb.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				tb.Fatal(err)
			}
		}
		return r
	}
}

func (r *natsRig) run(per int) error {
	err := publishers(r.pubs, func(p int) error {
		nc := r.conns[p]
		payload := make([]byte, payloadSize)
		var next time.Time
		for i := range per {
			if err := nc.Publish(topic, r.s.bytes(payload, &next)); err != nil {
				return err
			}
			if (i+1)%windowStep == 0 {
				r.w.published(windowStep)
			}
		}
		return nc.Flush()
	})
	if err != nil {
		return err
	}
	if err := r.s.wait(timeout); err != nil {
		select {
		case e := <-r.errs:
			return fmt.Errorf("%w (nats: %v)", err, e)
		default:
			return err
		}
	}
	select {
	case e := <-r.errs:
		return e
	default:
		return nil
	}
}

func (r *natsRig) sink() *sink { return r.s }

func (r *natsRig) close() {
	for _, nc := range r.conns {
		nc.Close()
	}
	r.ns.Shutdown()
	r.ns.WaitForShutdown()
}

// EventBus

type eventBusRig struct {
	pubs int
	s    *sink
	bus  evbus.Bus
}

func newEventBusRig(async bool) func(tb testing.TB, pubs, subs int, want int64) propRig {
	return func(tb testing.TB, pubs, subs int, want int64) propRig {
		r := &eventBusRig{pubs: pubs, s: newSink(subs, want), bus: evbus.New()}
		for i := range subs {
			h := func(ev *semevent.Event) { r.s.got(i, ev.Data) }
			var err error
			if async {
				err = r.bus.SubscribeAsync(topic, h, true)
			} else {
				err = r.bus.Subscribe(topic, h)
			}
			if err != nil {
				tb.Fatal(err)
			}
		}
		return r
	}
}

func (r *eventBusRig) run(per int) error {
	err := publishers(r.pubs, func(int) error {
		ev := benchEvent()
		var next time.Time
		for range per {
			r.bus.Publish(topic, r.s.event(ev, &next))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.s.wait(timeout)
}

func (r *eventBusRig) sink() *sink { return r.s }

func (r *eventBusRig) close() { r.bus.WaitAsync() }

// latencyInterval is the offered load of the latency benchmark: one event
// every 50µs (20k events/s), well below every contender's throughput.
const latencyInterval = 50 * time.Microsecond

// BenchmarkPropagationLatency publishes b.N events at 20k events/s from
// one publisher to one subscriber and reports the publish-to-handler
// latency of every event (p50-ns, p99-ns). Each event has its own payload
// stamped with the time; ns/op is meaningless here and set to 0.
func BenchmarkPropagationLatency(b *testing.B) {
	for _, c := range propContenders {
		if c.name == "eventbus-sync" {
			continue // the handler runs inside Publish: no hand-over to measure
		}
		b.Run("1x1/"+c.name, func(b *testing.B) {
			r := c.make(b, 1, 1, int64(b.N))
			defer r.close()
			r.sink().lat = &latency{interval: latencyInterval, samples: make([]int64, 0, b.N)}
			b.ReportAllocs()
			b.ResetTimer()
			if err := r.run(b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(r.sink().lat.quantile(0.50), "p50-ns")
			b.ReportMetric(r.sink().lat.quantile(0.99), "p99-ns")
			b.ReportMetric(0, "ns/op")
		})
	}
}
