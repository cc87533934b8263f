package propagation_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

// TestDurablePublishCrashCampaign (issue 14, machinery) takes power-loss
// images of a journal (on journaltest.CrashFS) while several goroutines
// publish durably through a bus, then restarts the journal and a new bus
// on the image: every publish that returned nil before the image was
// taken is in the journal, exactly once, unchanged. CI takes 60 images;
// SEMEVENT_SOAK=1 takes 3,000.
func TestDurablePublishCrashCampaign(t *testing.T) {
	images := 60
	if os.Getenv("SEMEVENT_SOAK") == "1" {
		images = 3000
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 13))
	fsys := journaltest.NewCrashFS()
	if err := fsys.MkdirAllDurable("/data"); err != nil {
		t.Fatal(err)
	}
	acked := map[semevent.ID]string{} // ID → Path of every acknowledged durable publish
	for img := 0; img < images; img++ {
		j, err := journal.Open("/data/bus", &journal.Options{FS: fsys, SegmentSize: int64(2048 + r.IntN(4)*1024)})
		if err != nil {
			t.Fatalf("seed %d image %d: Open: %v", seed, img, err)
		}
		seen := map[semevent.ID]bool{}
		rd, err := j.NewReader(j.FirstOffset())
		if err != nil {
			t.Fatal(err)
		}
		for {
			var ev semevent.Event
			_, err := rd.Next(&ev)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("seed %d image %d: read: %v", seed, img, err)
			}
			if seen[ev.ID] {
				t.Fatalf("seed %d image %d: event %v journaled twice", seed, img, ev.ID)
			}
			seen[ev.ID] = true
			if p, ok := acked[ev.ID]; ok && p != ev.Path {
				t.Fatalf("seed %d image %d: event %v has path %q, published %q", seed, img, ev.ID, ev.Path, p)
			}
		}
		rd.Close()
		for id := range acked {
			if !seen[id] {
				t.Fatalf("seed %d image %d: acknowledged durable publish %v lost (%d acknowledged)", seed, img, id, len(acked))
			}
		}

		b, err := propagation.New(&propagation.Options{Journal: j, Durability: propagation.Durable})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		live := map[semevent.ID]string{}
		var wg sync.WaitGroup
		for g := range 3 {
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/f/%d/%d/%d", img, g, n)}
					if err := b.Publish(ctx, ev); err != nil {
						return // ctx ended: outcome unknown, not acknowledged
					}
					mu.Lock()
					live[ev.ID] = ev.Path
					mu.Unlock()
				}
			})
		}
		for {
			mu.Lock()
			n := len(live)
			mu.Unlock()
			if n >= 3+r.IntN(40) {
				break
			}
			runtime.Gosched()
		}
		mu.Lock()
		for id, p := range live {
			acked[id] = p
		}
		mu.Unlock()
		next := fsys.PowerLoss(r)
		cancel()
		wg.Wait()
		b.Close(context.Background())
		j.Close(context.Background())
		fsys = next
	}
	t.Logf("%d power-loss images under concurrent durable publishes, %d acknowledged publishes checked, 0 lost", images, len(acked))
}
