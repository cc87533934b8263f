package fusebridge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
)

// shmEvent returns the i-th event of the two-process tests: every field
// set, some with payloads too long for a slot.
func shmEvent(i int) *semevent.Event {
	ev := &semevent.Event{
		ID:       semevent.MakeID(uint64(1700000000000000000+i), 3, uint32(i)),
		Kind:     semevent.KindFileWrite,
		Boundary: semevent.FUSE,
		Path:     fmt.Sprintf("/dir%d/file%d", i%7, i),
		PID:      uint32(1000 + i),
		UID:      1, GID: 2,
		Offset: int64(i) * 4096, Size: 4096,
		Time:  int64(1700000000000000000 + i),
		Trace: semevent.TraceContext{TraceID: [16]byte{byte(i), 1}, SpanID: [8]byte{byte(i >> 8), 2}, Flags: 1},
		Attrs: []semevent.Attr{{Key: fusebridge.AttrOp, Value: "write"}},
		Seen:  semevent.Boundaries(semevent.FUSE, semevent.Kernel),
	}
	if i%5 == 0 {
		ev.Data = bytes.Repeat([]byte{byte(i)}, 600)
	}
	return ev
}

// shmChild is the reader process: it checks every event against shmEvent
// and prints how many it read.
func shmChild(mode string) int {
	ch, err := fusebridge.OpenShmChannel(3)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := ch.Reader()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	check := mode == "check" || mode == "checkview"
	view := mode == "checkview" || mode == "countview"
	n := 0
	var ev semevent.Event
	var v fusebridge.EventView
	for {
		var err error
		if view {
			err = r.NextView(&v)
			if err == nil && check {
				viewEvent(&v, &ev)
			}
		} else {
			err = r.Next(&ev)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		if check {
			if d := semevent.Diff(&ev, shmEvent(n)); d != nil {
				fmt.Fprintf(os.Stderr, "event %d differs in %v\n", n, d)
				return 4
			}
		}
		n++
	}
	fmt.Println(n)
	return 0
}

func startShmChild(t testing.TB, ch *fusebridge.ShmChannel, mode string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	f, err := ch.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FUSEBRIDGE_SHM_CHILD="+mode)
	cmd.ExtraFiles = []*os.File{f}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// TestShmTwoProcesses: events reach another process with every field
// intact.
func TestShmTwoProcesses(t *testing.T) {
	ch, err := fusebridge.NewShmChannel(&fusebridge.ShmOptions{Slots: 1024, SlotSize: 256, PayloadSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close(context.Background())
	w, err := ch.Writer()
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := startShmChild(t, ch, "check")
	const n = 20000
	for i := range n {
		if err := w.Send(shmEvent(i)); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	w.Close(context.Background())
	if err := cmd.Wait(); err != nil {
		t.Fatalf("reader process: %v", err)
	}
	if got := string(bytes.TrimSpace(out.Bytes())); got != strconv.Itoa(n) {
		t.Fatalf("reader read %s events, want %d", got, n)
	}
}

// BenchmarkShmEvents measures encoded events per second from this process
// to a reader process that decodes each (next: ShmReader.Next into an
// Event) or only parses it (view: ShmReader.NextView), in one run.
func BenchmarkShmEvents(b *testing.B) {
	b.Run("next", func(b *testing.B) { benchShmEvents(b, "count") })
	b.Run("view", func(b *testing.B) { benchShmEvents(b, "countview") })
}

func benchShmEvents(b *testing.B, mode string) {
	ch, err := fusebridge.NewShmChannel(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close(context.Background())
	w, _ := ch.Writer()
	evs := make([]*semevent.Event, 64)
	for i := range evs {
		evs[i] = shmEvent(i*5 + 1) // no payloads: inline slots
	}
	cmd, out := startShmChild(b, ch, mode)
	b.ResetTimer()
	w0 := selfCPU()
	for i := 0; i < b.N; i++ {
		if err := w.Send(evs[i&63]); err != nil {
			b.Fatal(err)
		}
	}
	w.Close(context.Background())
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := string(bytes.TrimSpace(out.Bytes())); got != strconv.Itoa(b.N) {
		b.Fatalf("reader read %s, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// The machine is shared: also report what each side achieves per second
	// of processor it actually got.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/reader-cpu-s")
		b.ReportMetric(float64(b.N)/(selfCPU()-w0).Seconds(), "events/writer-cpu-s")
	}
}

// selfCPU returns the processor time this process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
