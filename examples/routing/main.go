// Command routing shows rule-based routing with hot reload from a file: it
// writes a YAML rule set, watches it, routes a few events, edits the file
// (the routes change without a restart), then writes an invalid rule set
// (it is rejected with every problem listed and the old rules keep
// running).
//
//	go run ./examples/routing                 # in a temporary directory
//	go run ./examples/routing -rules my.yaml  # watch your own file; Ctrl-C to stop
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/routing"
)

const rulesV1 = `# Version 1: deletes are audited, acme's logs are indexed.
groups:
  - name: indexers
    members: [indexer-1, indexer-2, indexer-3]
    strategy: hash
    key: path
rules:
  - name: audit-deletes
    subject: "tenant.*.fs.file.delete"
    to: [audit]
  - name: acme-logs
    subject: "tenant.acme.fs.>"
    path: "/data/**/*.log"
    to: [indexers]
`

// Version 2 adds two rules: big writes also go to cold storage, and
// secrets to DLP.
const rulesV2 = rulesV1 + `  - name: big-writes
    subject: "tenant.*.fs.file.write"
    when: Size > 1048576
    to: [cold-storage]
  - name: secrets
    contains: ["BEGIN PRIVATE KEY"]
    in: [data]
    to: [dlp]
`

const rulesBad = `rules:
  - name: broken-subject
    subject: "tenant.>.fs"
    to: [audit]
  - name: broken-condition
    when: Size >
    to: [audit]
`

var events = []*semevent.Event{
	{Topic: "tenant.acme.fs.file.write", Path: "/data/app/today.log", Size: 2 << 20},
	{Topic: "tenant.globex.fs.file.delete", Path: "/data/old.csv"},
	{Topic: "tenant.globex.fs.file.write", Path: "/home/k.pem", Data: []byte("-----BEGIN PRIVATE KEY-----")},
}

func main() {
	rules := flag.String("rules", "", "rule set file to watch (default: a demo in a temporary directory)")
	flag.Parse()
	if *rules != "" {
		if err := watchFile(*rules); err != nil {
			log.Fatal(err)
		}
		return
	}
	dir, err := os.MkdirTemp("", "semevent-routing")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := run(os.Stdout, filepath.Join(dir, "rules.yaml")); err != nil {
		log.Fatal(err)
	}
}

// run is the demo: it owns the file name.
func run(w io.Writer, name string) error {
	if err := writeFile(name, rulesV1); err != nil {
		return err
	}
	tab, err := routing.New(nil, nil)
	if err != nil {
		return err
	}
	reloaded := make(chan uint64, 4)
	rejected := make(chan error, 4)
	watcher, err := routing.Watch(context.Background(), tab, name, &routing.WatchOptions{
		Interval: 10 * time.Millisecond,
		OnReload: func(v uint64) { reloaded <- v },
		OnError:  func(err error) { rejected <- err },
	})
	if err != nil {
		return err
	}
	defer watcher.Close(context.Background())

	fmt.Fprintf(w, "rule set version %d\n", tab.Version())
	routeAll(w, tab)

	if err := writeFile(name, rulesV2); err != nil {
		return err
	}
	select {
	case v := <-reloaded:
		fmt.Fprintf(w, "file changed: rule set version %d\n", v)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("no reload")
	}
	routeAll(w, tab)

	if err := writeFile(name, rulesBad); err != nil {
		return err
	}
	select {
	case err := <-rejected:
		fmt.Fprintf(w, "invalid file rejected:\n%v\n", err)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("invalid file not reported")
	}
	fmt.Fprintf(w, "still routing with version %d\n", tab.Version())
	routeAll(w, tab)
	return nil
}

func routeAll(w io.Writer, r routing.Router) {
	var dests []string
	for _, ev := range events {
		dests = r.Route(ev, dests[:0])
		slices.Sort(dests)
		fmt.Fprintf(w, "  %-30s %-20s -> %v\n", ev.Topic, ev.Path, dests)
	}
}

// writeFile replaces name atomically, as editors and config managers do.
func writeFile(name, content string) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// watchFile watches a user's rule set until interrupted, routing the demo
// events after every reload.
func watchFile(name string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tab, err := routing.New(nil, nil)
	if err != nil {
		return err
	}
	w, err := routing.Watch(ctx, tab, name, &routing.WatchOptions{
		OnReload: func(v uint64) { fmt.Printf("reloaded: version %d\n", v); routeAll(os.Stdout, tab) },
		OnError:  func(err error) { fmt.Println(err) },
	})
	if err != nil {
		return err
	}
	routeAll(os.Stdout, tab)
	<-w.Done()
	return nil
}
