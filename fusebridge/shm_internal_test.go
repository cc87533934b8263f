package fusebridge

import (
	"context"
	"errors"
	"testing"

	"github.com/vexfs/semevent"
)

// TestShmMalformedRecordIsCorrupt (issue 16 item 6): a record that does
// not decode as an event is reported with the exported
// ErrChannelCorrupt, not an internal package's error.
func TestShmMalformedRecordIsCorrupt(t *testing.T) {
	ch, err := NewShmChannel(&ShmOptions{Slots: 16, SlotSize: 256, PayloadSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close(context.Background())
	p, err := ch.r.Producer()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send([]byte("not an event record")); err != nil {
		t.Fatal(err)
	}
	r, err := ch.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var ev semevent.Event
	if err := r.Next(&ev); !errors.Is(err, ErrChannelCorrupt) {
		t.Errorf("Next on a malformed record = %v, want an error wrapping ErrChannelCorrupt", err)
	}
}
