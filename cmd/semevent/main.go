// Command semevent looks inside what programs built on semevent leave
// behind: journals (stat, dump, tail, verify), audit trails (verify),
// a directory's kernel events (watch), what changed under a path since a
// journal cursor (since), and running cluster nodes (cluster status).
//
// Install it with
//
//	go install github.com/vexfs/semevent/cmd/semevent@latest
//
// Every command has --help; --json prints machine-readable output (one
// JSON object, or one per line for event streams). On bad input the
// command prints one line naming the file, offset or argument at fault to
// standard error and exits with status 1 (2 for a usage error).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// usageError marks an error in the command line itself (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "semevent",
		Short:         "Inspect semevent journals, audit trails and file-system events",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(journalCmd(), auditCmd(), watchCmd(), sinceCmd(), clusterCmd())
	return root
}

// run executes the command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "semevent: internal error: %v\n", r)
			status = 70
		}
	}()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "semevent: %s\n", oneLine(err.Error()))
	var ue *usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.Contains(err.Error(), "arg(s)") {
		return 2
	}
	return 1
}

// oneLine joins a multi-line message (errors.Join) into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
