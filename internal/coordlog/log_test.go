package coordlog

import (
	"context"
	"testing"
)

func TestReadAcrossChunks(t *testing.T) {
	l := New[int]()
	var want []int
	for i := range 3*chunkSize + 17 {
		want = append(want, i)
	}
	for i := 0; i < len(want); {
		n := min(1+i%700, len(want)-i)
		if first := l.Append(want[i : i+n]...); first != uint64(i+1) {
			t.Fatalf("Append at %d returned %d", i, first)
		}
		i += n
	}
	if l.Len() != uint64(len(want)) {
		t.Fatalf("Len = %d", l.Len())
	}
	for _, tc := range []struct{ from, max int }{{1, 0}, {chunkSize, 2}, {chunkSize + 1, chunkSize + 5}, {len(want), 10}, {len(want) + 1, 1}} {
		got, first := l.Read(nil, uint64(tc.from), tc.max)
		n := len(want) - (tc.from - 1)
		if n < 0 {
			n = 0
		}
		if tc.max > 0 && n > tc.max {
			n = tc.max
		}
		if first != uint64(tc.from) || len(got) != n {
			t.Fatalf("Read(%d, %d) = %d entries from %d, want %d", tc.from, tc.max, len(got), first, n)
		}
		for k, v := range got {
			if v != tc.from-1+k {
				t.Fatalf("Read(%d, %d)[%d] = %d", tc.from, tc.max, k, v)
			}
		}
	}
	l.Reset([]int{7, 8})
	if all := l.All(); len(all) != 2 || all[1] != 8 {
		t.Fatalf("after Reset: %v", all)
	}
	l.Close()
	if err := l.Wait(context.Background(), 3); err != ErrClosed {
		t.Fatalf("Wait after Close = %v", err)
	}
	if err := l.Wait(context.Background(), 2); err != nil {
		t.Fatalf("Wait for a held index after Close = %v", err)
	}
}
