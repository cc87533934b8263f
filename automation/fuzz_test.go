package automation

import (
	"bytes"
	"testing"

	"github.com/vexfs/semevent"
)

// FuzzDecodeRecord: DecodeRecord never panics, and what it accepts
// re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []*Record{
		{Type: RecStarted, Time: 1, Execution: "w/1", Workflow: "w", Tenant: "t", Event: &semevent.Event{ID: semevent.MakeID(5, 1, 2), Kind: semevent.KindFileCreate, Path: "/a", Attrs: []semevent.Attr{{Key: "k", Value: "v"}}}},
		{Type: RecStepDone, Time: 2, Execution: "w/1", Step: "par1.0/s#2", Seq: 7, Result: []byte("out")},
		{Type: RecStepFailed, Execution: "w/1", Step: "s", Err: "boom"},
		{Type: RecAwaitDone, Execution: "w/1", Step: "in:open"},
		{Type: RecAwaitStarted, Execution: "w/1", Step: "in:open", Seq: 1 << 62},
		{Type: RecFinished, Execution: "w/1", Outcome: CompensationFailed, Err: "x"},
		{Type: RecCompensated, Execution: "w/1", Step: "s", Events: []*semevent.Event{
			{ID: semevent.MakeID(6, 1, 2), Kind: semevent.KindCustom, Topic: "app.undo", Tenant: "t"},
			{ID: semevent.MakeID(7, 1, 2), Kind: semevent.KindWorkflowStep, Attrs: []semevent.Attr{{Key: "status", Value: "compensated"}}},
		}},
		{Type: RecEmitted, Execution: "w/1", Step: "s", Seq: uint64(RecCompensated)},
	} {
		f.Add(AppendRecord(nil, r))
	}
	f.Add([]byte{1, 9, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			if r != nil {
				t.Fatal("record and error")
			}
			return
		}
		again := AppendRecord(nil, r)
		r2, err := DecodeRecord(again)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !bytes.Equal(AppendRecord(nil, r2), again) {
			t.Fatal("encoding not stable")
		}
	})
}
