package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vexfs/semevent/propagation/journal/since"
)

type sinceJSON struct {
	Fresh   string         `json:"fresh,omitempty"` // why the caller must rescan; empty when the changes are complete
	Cursor  string         `json:"cursor"`
	Records int            `json:"records"`
	Changes []since.Change `json:"changes"`
}

func sinceCmd() *cobra.Command {
	var dir, keyFile, tenant string
	var shard uint64
	var asJSON bool
	c := &cobra.Command{
		Use:   `since CURSOR [GLOB] --journal DIR`,
		Short: "Print what changed under a path glob since a journal cursor",
		Long: `Print the net change per path (created, modified, deleted, renamed) that
the journal in DIR records after CURSOR, for the paths GLOB matches
(*, ?, [a-z], ** as a whole segment), and the cursor to use next time.

Give "" as CURSOR for a first query. When the journal cannot answer from
CURSOR (another journal instance, older than retention, past the end) the
output says "fresh" with the reason and no changes: rescan, then continue
from the printed cursor. A cursor that is not one is an error.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("since needs --journal DIR")
			}
			opts := &since.Options{Tenant: tenant, Shard: shard}
			if len(args) == 2 {
				opts.Glob = args[1]
			}
			if err := opts.Validate(); err != nil {
				return usagef("GLOB argument: %v", err)
			}
			if args[0] != "" {
				if _, err := since.ParseCursor(args[0]); err != nil {
					return fmt.Errorf("CURSOR argument: %w", err)
				}
			}
			j, err := openJournal(c, dir, keyFile)
			if err != nil {
				return err
			}
			defer j.Close(context.Background())
			res, err := since.Query(c.Context(), j, args[0], opts)
			if err != nil {
				return fmt.Errorf("journal %s: %w", dir, err)
			}
			out := sinceJSON{Cursor: res.Cursor, Records: res.Records, Changes: res.Changes}
			if res.Fresh != since.NotFresh {
				out.Fresh = res.Fresh.String()
			}
			if out.Changes == nil {
				out.Changes = []since.Change{}
			}
			w := c.OutOrStdout()
			if asJSON {
				return writeJSON(w, out)
			}
			if out.Fresh != "" {
				fmt.Fprintf(w, "fresh: %s (rescan)\n", out.Fresh)
			}
			for _, ch := range out.Changes {
				switch {
				case ch.Op == since.Renamed && ch.Modified:
					fmt.Fprintf(w, "renamed+modified\t%s -> %s\n", ch.OldPath, ch.Path)
				case ch.Op == since.Renamed:
					fmt.Fprintf(w, "renamed\t%s -> %s\n", ch.OldPath, ch.Path)
				default:
					fmt.Fprintf(w, "%s\t%s\n", ch.Op, ch.Path)
				}
			}
			fmt.Fprintf(w, "cursor %s\n", out.Cursor)
			return nil
		},
	}
	c.Flags().StringVar(&dir, "journal", "", "the journal directory (required)")
	keyFileFlag(c, &keyFile)
	c.Flags().StringVar(&tenant, "tenant", "", "read only this tenant's events")
	c.Flags().Uint64Var(&shard, "shard", 0, "the shard the journal holds (0 unless it is a Raft shard's)")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}
