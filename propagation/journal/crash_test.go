package journal_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// The crash test re-executes the test binary as a child that appends with
// SyncAlways from several goroutines and prints every acknowledged offset;
// the parent kills it with SIGKILL at a random moment, reopens the journal
// and checks that every acknowledged event is there, byte for byte, and
// that no record is corrupt.
const (
	crashChildEnv = "SEMEVENT_JOURNAL_CRASH_CHILD" // the child's journal directory
	crashSeedEnv  = "SEMEVENT_JOURNAL_CRASH_SEED"
	crashKillsEnv = "SEMEVENT_JOURNAL_CRASH_KILLS" // more kills for a soak; default 24
	crashEncEnv   = "SEMEVENT_JOURNAL_CRASH_ENCRYPTED"
)

// crashMeta is the MetaSize of the child with the given seed: it changes
// from one kill to the next, so restarts also switch segment formats.
func crashMeta(seed uint64) int { return []int{0, 16}[seed%2] }

func crashOptions(encrypted bool, seed uint64) *journal.Options {
	o := &journal.Options{Sync: journal.SyncAlways, SegmentSize: 32 << 10, MetaSize: crashMeta(seed)}
	if encrypted {
		o.Encryption = &journal.Encryption{KeyID: "crash", Keys: map[string][]byte{"crash": key(4)}}
	}
	return o
}

// crashStream is the genEvent stream of a child's writer: seed*16+writer.
func crashStream(seed, writer uint64) uint64 { return seed*16 + writer }

func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("short")
	}
	kills := 24
	if s := os.Getenv(crashKillsEnv); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	t.Run("plain", func(t *testing.T) { crashRun(t, kills, false) })
	t.Run("encrypted", func(t *testing.T) { crashRun(t, max(kills/3, 1), true) })
}

// crashRun kills a child appending to one journal the given number of
// times, checking the journal after each kill.
func crashRun(t *testing.T, kills int, encrypted bool) {
	dir := t.TempDir()
	type ack struct {
		stream, n uint64
		meta      int // the child's MetaSize
	}
	acked := map[uint64]ack{}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	recovered := 0
	for seed := 1; seed <= kills; seed++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashSeedEnv+"="+strconv.Itoa(seed), crashEncEnv+"="+strconv.FormatBool(encrypted))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Kill once the child has acknowledged something, after a random
		// further delay.
		first, ok := <-lines
		require.True(t, ok, "child %d printed nothing", seed)
		time.Sleep(time.Duration(r.IntN(40)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		n := 0
		for _, line := range append([]string{first}, drain(lines)...) {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue // a line cut by the kill
			}
			off, _ := strconv.ParseUint(f[0], 10, 64)
			stream, _ := strconv.ParseUint(f[1], 10, 64)
			k, _ := strconv.ParseUint(f[2], 10, 64)
			_, dup := acked[off]
			require.False(t, dup, "offset %d acknowledged twice", off)
			acked[off] = ack{stream, k, crashMeta(uint64(seed))}
			n++
		}
		err = cmd.Wait()
		require.Error(t, err, "the child must have been killed")

		j, err := journal.Open(dir, crashOptions(encrypted, uint64(seed)))
		require.NoError(t, err, "reopen after kill %d", seed)
		if j.Recovery() != nil {
			recovered++
		}
		offs, evs, metas, err := readAllMeta(t, j, 0)
		require.NoError(t, err, "kill %d: a corrupt record was returned", seed)
		require.NoError(t, j.Close(context.Background()))
		byOff := make(map[uint64]int, len(evs))
		for i, off := range offs {
			require.Equal(t, uint64(i), off)
			byOff[off] = i
		}
		for off, a := range acked {
			i, ok := byOff[off]
			require.True(t, ok, "kill %d: acknowledged offset %d missing (%d records)", seed, off, len(evs))
			require.Empty(t, semevent.Diff(genEvent(a.stream, a.n), evs[i]), "kill %d: offset %d differs", seed, off)
			if a.meta > 0 {
				require.Equal(t, genMeta(a.stream, a.n, a.meta), metas[i], "kill %d: offset %d: meta", seed, off)
			} else {
				require.Nil(t, metas[i], "kill %d: offset %d: meta", seed, off)
			}
		}
		t.Logf("kill %d: %d acks read this run, %d acknowledged in all, %d records on disk", seed, n, len(acked), len(evs))
	}
	t.Logf("%d kills, %d acknowledged events checked, %d opens cut a torn tail", kills, len(acked), recovered)
}

func drain(c <-chan string) []string {
	var s []string
	for l := range c {
		s = append(s, l)
	}
	return s
}

// crashChild appends until killed. Each writer goroutine appends its own
// stream, alternating single appends and batches, and prints
// "offset stream n" for every acknowledged event.
func crashChild(dir string) {
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	encrypted, _ := strconv.ParseBool(os.Getenv(crashEncEnv))
	size := crashMeta(seed)
	j, err := journal.Open(dir, crashOptions(encrypted, seed))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range uint64(4) {
		wg.Go(func() {
			stream := crashStream(seed, g)
			for n := uint64(0); ; {
				batch := 1 + int(n%4)
				evs := make([]*semevent.Event, batch)
				for i := range evs {
					evs[i] = genEvent(stream, n+uint64(i))
				}
				// Every record of the batch carries the batch's meta; the
				// parent checks record n+i against genMeta(stream, n+i),
				// so batches here are of one record when meta is on.
				if size > 0 {
					evs = evs[:1]
				}
				off, err := j.AppendBatchMeta(context.Background(), evs, genMeta(stream, n, size))
				if err != nil {
					fmt.Fprintln(os.Stderr, "crash child:", err)
					os.Exit(2)
				}
				mu.Lock()
				for i := range evs {
					fmt.Fprintf(w, "%d %d %d\n", off+uint64(i), stream, n+uint64(i))
				}
				w.Flush()
				mu.Unlock()
				n += uint64(len(evs))
			}
		})
	}
	wg.Wait()
}
