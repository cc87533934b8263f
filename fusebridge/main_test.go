package fusebridge_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// The test binary re-executes itself to run a workload as another process
// (so that its pid differs from the FUSE server's): FUSEBRIDGE_WORKLOAD
// names it, FUSEBRIDGE_DIR is the mountpoint.
func TestMain(m *testing.M) {
	if name := os.Getenv("FUSEBRIDGE_WORKLOAD"); name != "" {
		w, ok := workloads[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown workload %q\n", name)
			os.Exit(2)
		}
		if err := w(realFS{root: os.Getenv("FUSEBRIDGE_DIR")}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if path := os.Getenv("FUSEBRIDGE_THREADOP"); path != "" {
		os.Exit(threadOp(path))
	}
	if dir := os.Getenv("FUSEBRIDGE_PIDREUSE"); dir != "" {
		os.Exit(pidReuseChild(dir))
	}
	if name := os.Getenv("FUSEBRIDGE_SHM_CHILD"); name != "" {
		os.Exit(shmChild(name))
	}
	goleak.VerifyTestMain(m)
}
