package shmring_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent/internal/shmring"
)

// The test binary re-executes itself as the other process: SHMRING_CHILD
// names the role, the ring is fd 3.
func TestMain(m *testing.M) {
	if role := os.Getenv("SHMRING_CHILD"); role != "" {
		os.Exit(child(role))
	}
	os.Exit(m.Run())
}

func child(role string) int {
	n, _ := strconv.Atoi(os.Getenv("SHMRING_N"))
	r, err := shmring.Open(3)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	switch role {
	case "consume": // read until EOF, check the sequence, print the count
		c, err := r.Consumer()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		var buf []byte
		got := 0
		check := os.Getenv("SHMRING_CHECK") != "0"
		for {
			buf, err = c.Recv(buf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 3
			}
			if !check {
				got++
				continue
			}
			if want := record(got); !bytes.Equal(buf, want) {
				fmt.Fprintf(os.Stderr, "record %d: got %d bytes, want %d\n", got, len(buf), len(want))
				return 4
			}
			got++
		}
		fmt.Println(got)
		return 0
	case "claim-and-hang": // claim the consumer role, say so, never read
		if _, err := r.Consumer(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println("ready")
		os.Stdout.Sync()
		select {}
	case "produce-crash": // send n records and exit without Close
		p, err := r.Producer()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		for i := range n {
			if err := p.Send(record(i)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 3
			}
		}
		return 0
	}
	return 1
}

// record returns the i-th test record: every 7th one is longer than a slot.
func record(i int) []byte {
	n := 8 + i%50
	if i%7 == 0 {
		n = 300 + i%1000
	}
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, uint64(i))
	for j := 8; j < n; j++ {
		b[j] = byte(i + j)
	}
	return b
}

func startChild(t testing.TB, r *shmring.Ring, role string, n int, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	f, err := r.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, "SHMRING_CHILD="+role, "SHMRING_N="+strconv.Itoa(n))...)
	cmd.ExtraFiles = []*os.File{f}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func TestTwoProcesses(t *testing.T) {
	r, err := shmring.Create(&shmring.Options{Slots: 256, SlotSize: 64, PayloadSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := r.Producer()
	if err != nil {
		t.Fatal(err)
	}
	const n = 50000
	cmd, out := startChild(t, r, "consume", n)
	for i := range n {
		if err := p.Send(record(i)); err != nil {
			t.Fatalf("Send(%d): %v", i, err)
		}
	}
	p.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consumer: %v", err)
	}
	if got := string(bytes.TrimSpace(out.Bytes())); got != strconv.Itoa(n) {
		t.Errorf("consumer read %s records, want %d", got, n)
	}
}

func TestConsumerSeesProducerCrash(t *testing.T) {
	r, err := shmring.Create(&shmring.Options{Slots: 1024, SlotSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.Consumer()
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	cmd, _ := startChild(t, r, "produce-crash", n)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("producer: %v", err)
	}
	var buf []byte
	for i := range n {
		if buf, err = c.Recv(buf); err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		if !bytes.Equal(buf, record(i)) {
			t.Fatalf("record %d differs", i)
		}
	}
	if _, err := c.Recv(buf); !errors.Is(err, shmring.ErrPeerGone) {
		t.Fatalf("Recv after the producer died = %v, want ErrPeerGone", err)
	}
}

func TestProducerSeesConsumerGone(t *testing.T) {
	r, err := shmring.Create(&shmring.Options{Slots: 4, SlotSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := r.Producer()
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.File()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SHMRING_CHILD=claim-and-hang")
	cmd.ExtraFiles = []*os.File{f}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	line := make([]byte, 6)
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	var sendErr error
	for i := 0; i < 10 && sendErr == nil; i++ {
		sendErr = p.Send(record(1))
	}
	if !errors.Is(sendErr, shmring.ErrPeerGone) {
		t.Fatalf("Send to a ring whose consumer died = %v, want ErrPeerGone", sendErr)
	}
}

func TestInProcess(t *testing.T) {
	r, err := shmring.Create(&shmring.Options{Slots: 8, SlotSize: 32, PayloadSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, _ := r.Producer()
	c, _ := r.Consumer()
	tests := []struct {
		name string
		rec  []byte
		err  error
	}{
		{"empty", []byte{}, nil},
		{"inline", []byte("0123456789"), nil},
		{"inline max", bytes.Repeat([]byte{1}, p.MaxInline()), nil},
		{"overflow", bytes.Repeat([]byte{2}, 100), nil},
		{"too large", make([]byte, 2000), shmring.ErrTooLarge},
	}
	for _, tt := range tests {
		err := p.TrySend(tt.rec)
		if !errors.Is(err, tt.err) {
			t.Fatalf("%s: TrySend = %v, want %v", tt.name, err, tt.err)
		}
		if err != nil {
			continue
		}
		got, ok, err := c.TryRecv(nil)
		if !ok || err != nil || !bytes.Equal(got, tt.rec) {
			t.Fatalf("%s: TryRecv = %q, %v, %v; want %q", tt.name, got, ok, err, tt.rec)
		}
	}
	for i := 0; i < 8; i++ {
		if err := p.TrySend([]byte{byte(i)}); err != nil {
			t.Fatalf("TrySend %d: %v", i, err)
		}
	}
	if err := p.TrySend([]byte{9}); !errors.Is(err, shmring.ErrFull) {
		t.Fatalf("TrySend on a full ring = %v, want ErrFull", err)
	}
	// Payload area full while slots are free.
	for i := 0; i < 8; i++ {
		c.TryRecv(nil)
	}
	for i := 0; i < 2; i++ {
		if err := p.TrySend(make([]byte, 400)); err != nil {
			t.Fatalf("overflow %d: %v", i, err)
		}
	}
	if err := p.TrySend(make([]byte, 400)); !errors.Is(err, shmring.ErrFull) {
		t.Fatalf("TrySend with the payload area full = %v, want ErrFull", err)
	}
	c.TryRecv(nil)
	if err := p.TrySend(make([]byte, 400)); err != nil {
		t.Fatalf("TrySend after the consumer freed payload: %v", err)
	}
	p.Close()
	for {
		_, ok, err := c.TryRecv(nil)
		if errors.Is(err, io.EOF) {
			break
		}
		if !ok || err != nil {
			t.Fatalf("drain: %v %v", ok, err)
		}
	}
	if _, err := r.Producer(); err != nil {
		t.Fatalf("same process claims again: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := &shmring.Options{Slots: 3, SlotSize: 20, PayloadSize: -1}
	err := bad.Validate()
	for _, field := range []string{"Slots", "SlotSize", "PayloadSize"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(field)) {
			t.Errorf("Validate(%+v) = %v, want it to name %s", bad, err, field)
		}
	}
	if err := (*shmring.Options)(nil).Validate(); err != nil {
		t.Errorf("nil options: %v", err)
	}
}

// BenchmarkTwoProcesses measures records per second from this process to a
// consumer process: 64-byte records (inline), or every 7th one in the
// payload area (mixed).
func BenchmarkTwoProcesses(b *testing.B) {
	for _, size := range []int{64, 0} {
		name := "inline64"
		if size == 0 {
			name = "mixed"
		}
		b.Run(name, func(b *testing.B) {
			r, err := shmring.Create(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			p, _ := r.Producer()
			cmd, out := startChild(b, r, "consume", b.N, "SHMRING_CHECK=0")
			recs := make([][]byte, 64)
			for i := range recs {
				if size == 0 {
					recs[i] = record(i)
				} else {
					recs[i] = make([]byte, size)
				}
			}
			b.ResetTimer()
			w0 := selfCPU()
			for i := 0; i < b.N; i++ {
				if err := p.Send(recs[i&63]); err != nil {
					b.Fatal(err)
				}
			}
			p.Close()
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got := string(bytes.TrimSpace(out.Bytes())); got != strconv.Itoa(b.N) {
				b.Fatalf("consumer read %s, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			// The machine is shared: also report what each side achieves per second
			// of processor it actually got.
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/reader-cpu-s")
				b.ReportMetric(float64(b.N)/(selfCPU()-w0).Seconds(), "records/writer-cpu-s")
			}
		})
	}
}

// selfCPU returns the processor time this process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
