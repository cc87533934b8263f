package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vexfs/semevent/coord/coordadmin"
)

func clusterCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Ask running nodes about their cluster",
	}
	c.AddCommand(clusterStatusCmd())
	return c
}

type nodeJSON struct {
	URL    string             `json:"url"`
	Status *coordadmin.Status `json:"status,omitempty"`
	// Lag per shard: how many records behind the furthest of the nodes
	// asked this node has applied.
	Lag   []uint64 `json:"lag,omitempty"`
	Error string   `json:"error,omitempty"`
}

func clusterStatusCmd() *cobra.Command {
	var addrs []string
	var asJSON bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "status --addr URL [--addr URL…]",
		Short: "Show shards, leaders, members, phi per peer, applied index and lag",
		Long: `Read each node's admin endpoint (coordadmin.Handler, mounted by the host
program) and print what it sees: every shard's leader, term and applied
index, the members, and the failure detector's phi for each peer. With
several --addr, each shard's lag is how many records a node has applied
fewer than the furthest of them. A node that does not answer is reported
and makes the exit status 1.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(addrs) == 0 {
				return usagef("cluster status needs --addr URL (a node's admin endpoint)")
			}
			client := &http.Client{Timeout: timeout}
			nodes := make([]nodeJSON, len(addrs))
			var firstErr error
			maxApplied := map[int]uint64{}
			for i, a := range addrs {
				if !strings.Contains(a, "://") {
					a = "http://" + a
				}
				nodes[i].URL = a
				st, err := coordadmin.Fetch(context.Background(), client, a)
				if err != nil {
					nodes[i].Error = oneLine(err.Error())
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				nodes[i].Status = st
				for _, s := range st.Shards {
					maxApplied[s.Shard] = max(maxApplied[s.Shard], s.Applied)
				}
			}
			for i := range nodes {
				if st := nodes[i].Status; st != nil {
					for _, s := range st.Shards {
						nodes[i].Lag = append(nodes[i].Lag, maxApplied[s.Shard]-s.Applied)
					}
				}
			}
			out := c.OutOrStdout()
			if asJSON {
				if err := writeJSON(out, struct {
					Nodes []nodeJSON `json:"nodes"`
				}{nodes}); err != nil {
					return err
				}
				return firstErr
			}
			for _, n := range nodes {
				st := n.Status
				if st == nil {
					fmt.Fprintf(out, "%s: %s\n\n", n.URL, n.Error)
					continue
				}
				health := "healthy"
				if !st.Healthy {
					health = "NOT healthy"
				}
				fmt.Fprintf(out, "node %d at %s: %s\n", st.Node, n.URL, health)
				fmt.Fprintf(out, "  shard\tleader\tterm\tapplied\tlag\tmembers\tobservers\n")
				for i, s := range st.Shards {
					obs := "-"
					if len(s.Observers) > 0 {
						obs = strings.Trim(fmt.Sprint(s.Observers), "[]")
					}
					fmt.Fprintf(out, "  %d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Shard, s.Leader, s.Term, s.Applied, n.Lag[i], s.Members, obs)
				}
				for _, m := range st.Members {
					fmt.Fprintf(out, "  member %d %s\n", m.ID, m.Addr)
				}
				if st.MembersError != "" {
					fmt.Fprintf(out, "  members: %s\n", st.MembersError)
				}
				for _, p := range st.Peers {
					phi := "inf"
					if p.Phi != nil {
						phi = fmt.Sprintf("%.2f", *p.Phi)
					}
					sus := ""
					if p.Suspected {
						sus = " SUSPECTED"
					}
					fmt.Fprintf(out, "  peer %d phi %s%s\n", p.Node, phi, sus)
				}
				fmt.Fprintln(out)
			}
			return firstErr
		},
	}
	c.Flags().StringArrayVar(&addrs, "addr", nil, "a node's admin endpoint URL (repeat for several nodes)")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for each node")
	return c
}
