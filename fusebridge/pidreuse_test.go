package fusebridge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// Exit codes of the pid-reuse child.
const (
	reuseOK   = 0
	reuseFail = 1
	reuseSkip = 3
)

// TestPIDCacheReusedThreadID (issue 14 item 17): a thread id that a
// process used for an operation on the mount, then freed by exiting, is
// given to a new process (forced with /proc/sys/kernel/ns_last_pid); the
// new process's operations must carry its own pid, not the old
// process's. The FUSE server runs in a new pid and mount namespace (a
// re-executed test binary, pid 1 there, with its own /proc) so that no
// other process on the machine takes the id first.
func TestPIDCacheReusedThreadID(t *testing.T) {
	needFUSE(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FUSEBRIDGE_PIDREUSE="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Start()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
		t.Skipf("the kernel refuses a new pid namespace: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	t.Logf("child in a new pid namespace:\n%s", out.String())
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() == reuseSkip:
		t.Skip("the kernel refused to reuse the thread id (see the log)")
	default:
		t.Fatalf("pid reuse: %v", err)
	}
}

// threadOp runs in a process started by the pid-reuse child: it opens
// and reads path from a thread that is not the main thread, prints that
// thread's id and exits.
func threadOp(path string) int {
	runtime.LockOSThread() // keep main on the main thread
	res := make(chan string)
	go func() {
		runtime.LockOSThread() // and this goroutine on another; it exits with it
		tid := unix.Gettid()
		if tid == unix.Getpid() {
			res <- "error: on the main thread"
			return
		}
		if _, err := os.ReadFile(path); err != nil {
			res <- "error: " + err.Error()
			return
		}
		res <- strconv.Itoa(tid)
	}()
	s := <-res
	fmt.Println(s)
	if strings.HasPrefix(s, "error") {
		return 1
	}
	return 0
}

// pidReuseChild is the pid-reuse test's FUSE server, pid 1 of a new pid
// namespace. It returns the process's exit code.
func pidReuseChild(dir string) int {
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		say("make mounts private: %v", err)
		return reuseSkip
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		say("mount /proc for the new namespace: %v", err)
		return reuseSkip
	}
	backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			say("%v", err)
			return reuseFail
		}
	}
	bus, err := propagation.New(nil)
	if err != nil {
		say("%v", err)
		return reuseFail
	}
	got := &recorder{}
	if _, err := bus.Subscribe(got, &propagation.SubscribeOptions{Buffer: 1 << 12}); err != nil {
		say("%v", err)
		return reuseFail
	}
	bridge, err := fusebridge.New(bus, nil)
	if err != nil {
		say("%v", err)
		return reuseFail
	}
	root, err := bridge.NewLoopbackRoot(backing)
	if err != nil {
		say("%v", err)
		return reuseFail
	}
	m, err := fusebridge.MountFS(mnt, root, nil)
	if err != nil {
		say("%v", err)
		return reuseFail
	}
	code := pidReuseRounds(say, mnt, backing)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		say("unmount: %v", err)
		code = reuseFail
	}
	if err := bridge.Close(ctx); err != nil {
		say("bridge close: %v", err)
		return reuseFail
	}
	if err := bus.Close(ctx); err != nil {
		say("bus close: %v", err)
		return reuseFail
	}
	if code != reuseOK {
		return code
	}
	return checkReuseEvents(say, got.all())
}

// reuse records one round: process a's thread tid read /a<round>, then
// process b (pid tid) read /b<round>.
type reuse struct {
	round, a, tid, b int
}

var reuses []reuse

// pidReuseRounds makes a thread id be reused: process A reads a file from
// a second thread (tid T) and exits; ns_last_pid is set to T-1 and
// process B, which gets pid T, reads another file. The Go runtime of this
// process may start a thread between the two and take T: then the round
// is tried again.
func pidReuseRounds(say func(string, ...any), mnt, backing string) int {
	for round := range 20 {
		a, b := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
		for _, f := range []string{a, b} {
			if err := os.WriteFile(filepath.Join(backing, f), []byte("data"), 0o644); err != nil {
				say("%v", err)
				return reuseFail
			}
		}
		ca := exec.Command(os.Args[0], "-test.run=^$")
		ca.Env = append(os.Environ(), "FUSEBRIDGE_PIDREUSE=", "FUSEBRIDGE_THREADOP="+filepath.Join(mnt, a))
		out, err := ca.Output()
		if err != nil {
			say("thread op: %v: %s", err, out)
			return reuseFail
		}
		tid, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			say("thread op printed %q", out)
			return reuseFail
		}
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(tid-1)), 0); err != nil {
			say("write ns_last_pid: %v", err)
			return reuseSkip
		}
		cb := exec.Command("cat", filepath.Join(mnt, b))
		if out, err := cb.CombinedOutput(); err != nil {
			say("cat: %v: %s", err, out)
			return reuseFail
		}
		say("round %d: process %d read /%s from thread %d; process %d read /%s", round, ca.Process.Pid, a, tid, cb.Process.Pid, b)
		if cb.Process.Pid == tid {
			reuses = append(reuses, reuse{round, ca.Process.Pid, tid, cb.Process.Pid})
			if len(reuses) == 3 {
				return reuseOK
			}
		}
	}
	if len(reuses) == 0 {
		say("no round reused the thread id")
		return reuseSkip
	}
	return reuseOK
}

// checkReuseEvents checks that every open and read of /a<round> carries
// process A's pid and every one of /b<round> process B's (the reused
// thread id).
func checkReuseEvents(say func(string, ...any), evs []*semevent.Event) int {
	code := reuseOK
	for _, r := range reuses {
		for _, want := range []struct {
			path string
			pid  int
		}{{fmt.Sprintf("/a%d", r.round), r.a}, {fmt.Sprintf("/b%d", r.round), r.b}} {
			n := 0
			for _, ev := range evs {
				if ev.Path != want.path || (ev.Kind != semevent.KindFileOpen && ev.Kind != semevent.KindFileRead) {
					continue
				}
				n++
				if int(ev.PID) != want.pid {
					say("FAIL round %d: %v %s carries pid %d, want %d (thread id %d reused)", r.round, ev.Kind, ev.Path, ev.PID, want.pid, r.tid)
					code = reuseFail
				}
			}
			if n == 0 {
				say("FAIL round %d: no open or read of %s", r.round, want.path)
				code = reuseFail
			}
		}
	}
	if code == reuseOK {
		say("%d rounds with a reused thread id: every event carries its own process's pid", len(reuses))
	}
	return code
}
