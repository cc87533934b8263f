package raft

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

// childEnv makes the test binary run runChild instead of the tests.
const childEnv = "SEMEVENT_RAFT_CHILD"

// testEvent is event i of entry index, with a fixed ID and time.
func testEvent(index uint64, i int) *semevent.Event {
	return &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/e%d/%d", index, i),
		ID: semevent.MakeID(index*1000+uint64(i), 1, 1), Time: int64(index*1000 + uint64(i))}
}

// testEntry is the proposal of entry index: n events from origin node 1.
func testEntry(index uint64, n int, extra ...*semevent.Event) sm.Entry {
	cmd := proposalHeader(nil, 1, index*7+1, n+len(extra))
	for i := range n {
		cmd = appendRecord(cmd, codec.Append(nil, testEvent(index, i)))
	}
	for _, ev := range extra {
		cmd = appendRecord(cmd, codec.Append(nil, ev))
	}
	return sm.Entry{Index: index, Cmd: cmd}
}

func update(t testing.TB, s *shardSM, e sm.Entry) sm.Result {
	t.Helper()
	out, err := s.Update([]sm.Entry{e})
	if err != nil {
		t.Fatalf("Update(entry %d): %v", e.Index, err)
	}
	return out[0].Result
}

// runChild is a child process: "midentry <dir> <k>" applies entry 1 (10
// events), syncs, then applies entry 2 (50 events) and, once its record
// at position k is written out, says so and waits to be killed.
func runChild(mode string) {
	f := strings.Fields(mode)
	if len(f) != 3 || f[0] != "midentry" {
		fmt.Println("bad mode", mode)
		os.Exit(2)
	}
	k, _ := strconv.Atoi(f[2])
	s := newShardSM(testSMConfig(f[1], nil))
	if _, err := s.Open(nil); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	if _, err := s.Update([]sm.Entry{testEntry(1, 10)}); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	if err := s.Sync(); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	s.afterRecord = func(i int) {
		if i == k {
			s.jw.Flush(context.Background()) // as a full buffer would
			fmt.Println("written")
			select {}
		}
	}
	s.Update([]sm.Entry{testEntry(2, 50)})
}

// TestKillMidEntry kills (SIGKILL) a process applying a 50-event entry
// right after its record k was written, and restarts the state machine on
// the same directory: Open reports entry 1 as the last applied, and
// applying entry 2 again completes it without writing its first k+1
// records a second time and without skipping any: the journal holds 60
// records, each event once, in proposal order, with its entry's index and
// position.
func TestKillMidEntry(t *testing.T) {
	for _, k := range []int{0, 17, 48} {
		t.Run(fmt.Sprint("after record ", k), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=midentry %s %d", childEnv, dir, k))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || line != "written\n" {
				t.Fatalf("child said %q, %v", line, err)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			s := openTestSM(t, dir, nil)
			defer s.Close()
			if s.applied != 1 || s.resume != (resumeState{index: 2, done: uint32(k + 1)}) {
				t.Fatalf("after the kill: applied %d, resume %+v; want 1, entry 2 with %d records done", s.applied, s.resume, k+1)
			}
			if got := s.jw.NextOffset(); got != uint64(10+k+1) {
				t.Fatalf("journal holds %d records, want %d", got, 10+k+1)
			}
			update(t, s, testEntry(2, 50))
			checkJournal(t, s, []int{10, 50})
			// Entry 2 again (a replay beyond the applied index) is a no-op,
			// and an event of entry 1 proposed again is already committed.
			update(t, s, testEntry(2, 50))
			res := update(t, s, testEntry(3, 1, testEvent(1, 4)))
			slots, err := decodeResult(res, 2)
			if err != nil || slots[1] != (slot{5, true}) || slots[0] != (slot{61, false}) {
				t.Fatalf("entry 3 = %v, %v; want the new event at 61, entry 1's fifth already at 5", slots, err)
			}
			checkJournal(t, s, []int{10, 50, 1})
		})
	}
}

// checkJournal checks that s's journal holds, in order, counts[i] events
// of entry i+1 (testEvent(i+1, 0..counts[i]-1)) and nothing else.
func checkJournal(t testing.TB, s *shardSM, counts []int) {
	t.Helper()
	r, err := s.jw.NewReader(s.jw.FirstOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ev semevent.Event
	off := s.jw.FirstOffset()
	for e, n := range counts {
		index := uint64(e + 1)
		for i := range n {
			got, err := r.Next(&ev)
			if err != nil {
				t.Fatalf("offset %d: %v (want entry %d event %d)", off, err, index, i)
			}
			m := parseMeta(r.Meta())
			if got != off || ev.ID != testEvent(index, i).ID || m.index != index || m.pos != uint32(i) || m.origin != 1 {
				t.Fatalf("offset %d holds %s %+v, want entry %d event %d", got, ev.ID, m, index, i)
			}
			off++
		}
	}
	if got, err := r.Next(&ev); err == nil {
		t.Fatalf("extra record at %d: %s %+v", got, ev.ID, parseMeta(r.Meta()))
	}
}

// TestPowerLossImages applies entries to a state machine on a CrashFS,
// syncing now and then, and takes crash images (power loss: only fsynced
// bytes survive; kill: every written byte) after random entries. On
// every image, Open's applied index and the re-application of the
// entries after it rebuild exactly the journal of the machine that never
// crashed: nothing applied twice, nothing skipped, whatever the sync
// points were.
func TestPowerLossImages(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fsys := journaltest.NewCrashFS()
	s := openTestSM(t, "/d", fsys)
	defer s.Close()
	var entries []sm.Entry
	var counts []int
	images := 0
	for index := uint64(1); index <= 60; index++ {
		n := 1 + r.IntN(30)
		e := testEntry(index, n)
		entries = append(entries, e)
		counts = append(counts, n)
		s.afterRecord = nil
		if r.IntN(6) == 0 {
			// Crash inside this entry: an image after record k.
			k := r.IntN(n)
			s.afterRecord = func(i int) {
				if i == k {
					s.jw.Flush(context.Background())
					checkImage(t, fsys.Kill(), entries, counts)
					checkImage(t, fsys.PowerLoss(r), entries, counts)
					images += 2
				}
			}
		}
		update(t, s, e)
		if r.IntN(4) == 0 {
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(3) == 0 {
			checkImage(t, fsys.PowerLoss(r), entries, counts)
			checkImage(t, fsys.Kill(), entries, counts)
			images += 2
		}
	}
	t.Logf("%d crash images checked", images)
}

// checkImage opens a state machine on a crash image and re-applies what
// it lacks of entries, as dragonboat would from its log, then compares
// the journal with counts.
func checkImage(t *testing.T, img *journaltest.CrashFS, entries []sm.Entry, counts []int) {
	t.Helper()
	s := newShardSM(testSMConfig("/d", img))
	applied, err := s.Open(nil)
	if err != nil {
		t.Fatalf("Open on a crash image: %v", err)
	}
	defer s.Close()
	if applied > uint64(len(entries)) {
		t.Fatalf("Open = %d, past the %d entries applied", applied, len(entries))
	}
	for _, e := range entries[applied:] {
		update(t, s, e)
	}
	checkJournal(t, s, counts)
}

var _ journal.FS = (*journaltest.CrashFS)(nil)

// TestOversizedRecordRefused: a committed proposal whose event the
// journal could not take (a peer with a larger MaxEventSize) is applied as
// nothing, with a typed error in its result, instead of stopping the node.
func TestOversizedRecordRefused(t *testing.T) {
	s := openTestSM(t, t.TempDir(), nil)
	defer s.Close()
	big := testEvent(1, 0)
	big.Data = make([]byte, 8192) // the test journal takes records of 4096 bytes
	res := update(t, s, testEntry(1, 1, big))
	if _, err := decodeResult(res, 2); err == nil || s.jw.NextOffset() != 0 {
		t.Fatalf("oversized proposal: result %v, journal holds %d records", err, s.jw.NextOffset())
	}
	var ee *EncodingError
	_, derr := decodeProposal(testEntry(1, 1, big).Cmd, true)
	if derr != nil || !errors.As(s.decodeEvents([][]byte{codec.Append(nil, big)}), &ee) {
		t.Fatalf("decodeEvents of an oversized record is not an *EncodingError")
	}
	update(t, s, testEntry(2, 3))
	checkJournal(t, s, []int{0, 3})
}
