package analyticstest_test

import (
	"context"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics/analyticstest"
)

// The fake records what code under test feeds its analyzer.
func ExampleFake() {
	f := analyticstest.New()
	ctx := context.Background()
	for _, p := range []string{"/a", "/b"} {
		_ = f.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: p})
	}
	_ = f.Flush(ctx)
	for _, ev := range f.Events() {
		fmt.Println(ev.Kind, ev.Path)
	}
	fmt.Println("flushes:", f.Flushes())
	// Output:
	// write /a
	// write /b
	// flushes: 1
}
