package fusebridge

import (
	"errors"
	"testing"
)

// TestWatcherMalformedRecord: a kernel record that does not decode is
// counted and reported with the exported ErrMalformedRecord, in both
// modes' readers.
func TestWatcherMalformedRecord(t *testing.T) {
	for _, mode := range []WatcherMode{Fanotify, Inotify} {
		var got []error
		w := &Watcher{mode: mode, opts: WatcherOptions{OnError: func(err error) { got = append(got, err) }}}
		junk := []byte{1, 2, 3, 4, 5}
		if mode == Fanotify {
			w.fanBatch(junk)
		} else {
			w.inBatch(junk)
		}
		if len(got) != 1 || !errors.Is(got[0], ErrMalformedRecord) {
			t.Errorf("%v: OnError got %v, want one error wrapping ErrMalformedRecord", mode, got)
		}
		if s := w.Stats(); s.Malformed != 1 || s.Records != 0 {
			t.Errorf("%v: Stats() = %+v, want 1 malformed, 0 records", mode, s)
		}
	}
}
