package logx

import (
	"testing"
	"time"
)

func TestLimiterFirstThenSummary(t *testing.T) {
	var l Limiter
	l.Every = time.Second
	t0 := time.Unix(100, 0).UnixNano()
	if n, ok := l.Note(t0); !ok || n != 1 {
		t.Fatalf("first Note = %d, %v; want 1, true", n, ok)
	}
	for i := range 5 {
		if _, ok := l.Note(t0 + int64(time.Duration(i)*100*time.Millisecond)); ok {
			t.Fatalf("Note %d within the interval logged", i)
		}
	}
	if n, ok := l.Note(t0 + int64(time.Second)); !ok || n != 6 {
		t.Fatalf("Note after the interval = %d, %v; want 6 (5 held + this one), true", n, ok)
	}
	if n := testing.AllocsPerRun(100, func() { l.Note(t0) }); n != 0 {
		t.Fatalf("Note allocates %v per call", n)
	}
}
