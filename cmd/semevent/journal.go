package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

func journalCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "journal",
		Short: "Inspect a journal directory: stat, dump, tail, verify",
		Long: `Inspect a journal directory (package propagation/journal).

The journal must not be open in another process: these commands open it
themselves (a journal directory is locked by the process that has it open).
Opening recovers the journal as journal.Open does: a torn tail left by a
crash is cut off, and the commands say so on standard error.`,
	}
	c.AddCommand(journalStatCmd(), journalDumpCmd(), journalTailCmd(), journalVerifyCmd())
	return c
}

// keyFileFlag adds --key-file to c.
func keyFileFlag(c *cobra.Command, p *string) {
	c.Flags().StringVar(p, "key-file", "", "file of encryption keys, one \"KEY-ID HEX-KEY\" per line (64 hex digits; the first line's key id is the current one)")
}

// readKeyFile reads a key file into journal encryption options.
func readKeyFile(path string) (*journal.Encryption, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return parseKeys(path, data)
}

// parseKeys parses "KEY-ID HEX-KEY" lines ('#' starts a comment line).
func parseKeys(path string, data []byte) (*journal.Encryption, error) {
	enc := &journal.Encryption{Keys: map[string][]byte{}}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("key file %s line %d: want \"KEY-ID HEX-KEY\"", path, n+1)
		}
		key, err := hex.DecodeString(fields[1])
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("key file %s line %d: key %q is not 64 hex digits", path, n+1, fields[0])
		}
		if _, dup := enc.Keys[fields[0]]; dup {
			return nil, fmt.Errorf("key file %s line %d: key id %q given twice", path, n+1, fields[0])
		}
		if enc.KeyID == "" {
			enc.KeyID = fields[0]
		}
		enc.Keys[fields[0]] = key
	}
	if enc.KeyID == "" {
		return nil, fmt.Errorf("key file %s: no key", path)
	}
	if err := (&journal.Options{Encryption: enc}).Validate(); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return enc, nil
}

// isJournalDir checks that dir exists and looks like a journal, so that
// opening it does not turn an arbitrary directory into one.
func isJournalDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal %s: no such directory", dir)
		}
		return fmt.Errorf("journal %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("journal %s: not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("journal %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") || e.Name() == "INSTANCE" || e.Name() == "MANIFEST" || e.Name() == "LOCK" {
			return nil
		}
	}
	return fmt.Errorf("journal %s: not a journal (no segment, MANIFEST, INSTANCE or LOCK file)", dir)
}

// journalOptions are the options every command opens a journal with: the
// keys in keyFile when given, and no log of the journal's own, since the
// commands report what recovery did on stderr in one line themselves.
func journalOptions(keyFile string) (*journal.Options, error) {
	opts := &journal.Options{Logger: slog.New(slog.DiscardHandler)}
	if keyFile != "" {
		enc, err := readKeyFile(keyFile)
		if err != nil {
			return nil, err
		}
		opts.Encryption = enc
	}
	return opts, nil
}

// openJournal opens dir as an existing journal, with the keys in keyFile
// when given, and reports on stderr what recovery cut.
func openJournal(c *cobra.Command, dir, keyFile string) (*journal.Journal, error) {
	if err := isJournalDir(dir); err != nil {
		return nil, err
	}
	opts, err := journalOptions(keyFile)
	if err != nil {
		return nil, err
	}
	j, err := journal.Open(dir, opts)
	switch {
	case errors.Is(err, journal.ErrLocked):
		return nil, fmt.Errorf("journal %s is open in another process (its LOCK is held)", dir)
	case errors.Is(err, journal.ErrMissingKey) && keyFile == "":
		return nil, fmt.Errorf("journal %s: %w (give --key-file)", dir, err)
	case err != nil:
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	if r := j.Recovery(); r != nil {
		fmt.Fprintf(c.ErrOrStderr(), "semevent: note: %s\n", oneLine(r.String()))
	}
	return j, nil
}

type consumerInfo struct {
	Name      string `json:"name"`
	Committed uint64 `json:"committed"` // the next offset it will read
	Lag       uint64 `json:"lag"`       // records appended that it has not committed
	Problem   string `json:"problem,omitempty"`
}

// consumers lists the durable consumers' committed offsets.
func consumers(j *journal.Journal) ([]consumerInfo, error) {
	entries, err := os.ReadDir(filepath.Join(j.Dir(), "consumers"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	next := j.NextOffset()
	var out []consumerInfo
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		off, ok, err := j.CommittedOffset(e.Name())
		ci := consumerInfo{Name: e.Name(), Committed: off}
		switch {
		case err != nil:
			ci.Problem = oneLine(err.Error())
		case !ok:
			continue
		case off > next:
			ci.Problem = fmt.Sprintf("committed offset %d is past the journal's end %d", off, next)
		default:
			ci.Lag = next - off
		}
		out = append(out, ci)
	}
	return out, nil
}

type segmentJSON struct {
	Name    string `json:"name"`
	First   uint64 `json:"first"`
	End     uint64 `json:"end"`
	Records uint64 `json:"records"`
	Size    int64  `json:"size"`
	KeyID   string `json:"key_id,omitempty"`
	Created string `json:"created"`
	Sealed  bool   `json:"sealed"`
	Meta    int    `json:"meta_size,omitempty"` // bytes of metadata per record
}

type statJSON struct {
	Dir       string         `json:"dir"`
	Instance  string         `json:"instance"`
	First     uint64         `json:"first_offset"`
	Next      uint64         `json:"next_offset"`
	Records   uint64         `json:"records"`
	Bytes     int64          `json:"bytes"`
	Segments  []segmentJSON  `json:"segments"`
	Consumers []consumerInfo `json:"consumers"`
	Recovery  string         `json:"recovery,omitempty"`
}

func journalStatCmd() *cobra.Command {
	var keyFile string
	var asJSON bool
	c := &cobra.Command{
		Use:   "stat DIR",
		Short: "Show a journal's segments, offsets, and consumers with their lag",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			j, err := openJournal(c, args[0], keyFile)
			if err != nil {
				return err
			}
			defer j.Close(context.Background())
			inst := j.Instance()
			st := statJSON{Dir: args[0], Instance: hex.EncodeToString(inst[:]), First: j.FirstOffset(), Next: j.NextOffset(), Segments: []segmentJSON{}}
			st.Records = st.Next - st.First
			for _, s := range j.Segments() {
				st.Bytes += s.Size
				st.Segments = append(st.Segments, segmentJSON{Name: s.Name, First: s.First, End: s.End, Records: s.End - s.First, Size: s.Size, KeyID: s.KeyID, Created: s.Created.UTC().Format(time.RFC3339), Sealed: s.Sealed, Meta: s.MetaSize})
			}
			if st.Consumers, err = consumers(j); err != nil {
				return fmt.Errorf("journal %s: consumers: %w", args[0], err)
			}
			if st.Consumers == nil {
				st.Consumers = []consumerInfo{}
			}
			if r := j.Recovery(); r != nil {
				st.Recovery = r.String()
			}
			out := c.OutOrStdout()
			if asJSON {
				return writeJSON(out, st)
			}
			fmt.Fprintf(out, "journal   %s\ninstance  %s\noffsets   %d..%d (%d records)\nsegments  %d (%d bytes)\n", st.Dir, st.Instance, st.First, st.Next, st.Records, len(st.Segments), st.Bytes)
			for _, s := range st.Segments {
				enc := ""
				if s.KeyID != "" {
					enc = " key=" + s.KeyID
				}
				if s.Meta > 0 {
					enc += fmt.Sprintf(" meta=%dB", s.Meta)
				}
				fmt.Fprintf(out, "  %s  %d..%d  %d bytes  %s%s\n", s.Name, s.First, s.End, s.Size, s.Created, enc)
			}
			fmt.Fprintf(out, "consumers %d\n", len(st.Consumers))
			for _, ci := range st.Consumers {
				if ci.Problem != "" {
					fmt.Fprintf(out, "  %s  %s\n", ci.Name, ci.Problem)
					continue
				}
				fmt.Fprintf(out, "  %s  committed %d  lag %d\n", ci.Name, ci.Committed, ci.Lag)
			}
			return nil
		},
	}
	keyFileFlag(c, &keyFile)
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}

// printRange prints the records from from on, at most limit (0: all).
func printRange(c *cobra.Command, j *journal.Journal, from uint64, limit uint64, asJSON bool) error {
	r, err := j.NewReader(from)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.Dir(), err)
	}
	defer r.Close()
	var ev semevent.Event
	out := bufio.NewWriter(c.OutOrStdout())
	defer out.Flush()
	for n := uint64(0); limit == 0 || n < limit; n++ {
		off, err := r.Next(&ev)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("journal %s: %w", j.Dir(), err)
		}
		if err := printEvent(out, asJSON, &off, r.Meta(), &ev); err != nil {
			return err
		}
	}
	return nil
}

func journalDumpCmd() *cobra.Command {
	var from int64
	var limit uint64
	c := journalPrintCmd("dump DIR", "Print a journal's records",
		"Print a journal's records with their offsets, oldest first: text columns (offset, time, boundary, kind, path), or one JSON object per line with --json. Records that carry metadata (journal.Options.MetaSize, e.g. coord/raft's raft index, origin node and position) show it in hex: a meta=HEX column, or \"meta_hex\" in JSON.",
		func(j *journal.Journal) (uint64, uint64) {
			start := j.FirstOffset()
			if from >= 0 {
				start = uint64(from)
			}
			return start, limit
		})
	c.Flags().Int64Var(&from, "from", -1, "first offset to print (default: the oldest retained)")
	c.Flags().Uint64Var(&limit, "limit", 0, "print at most this many records (0: all)")
	return c
}

func journalTailCmd() *cobra.Command {
	var n uint64
	c := journalPrintCmd("tail DIR", "Print a journal's last records", "",
		func(j *journal.Journal) (uint64, uint64) {
			first, next := j.FirstOffset(), j.NextOffset()
			if next-first > n {
				return next - n, 0
			}
			return first, 0
		})
	c.Flags().Uint64VarP(&n, "lines", "n", 10, "how many records")
	return c
}

// journalPrintCmd is a command that opens the journal DIR and prints the
// records span chooses: from a first offset, at most a limit (0: all).
func journalPrintCmd(use, short, long string, span func(*journal.Journal) (from, limit uint64)) *cobra.Command {
	var keyFile string
	var asJSON bool
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			j, err := openJournal(c, args[0], keyFile)
			if err != nil {
				return err
			}
			defer j.Close(context.Background())
			from, limit := span(j)
			return printRange(c, j, from, limit, asJSON)
		},
	}
	keyFileFlag(c, &keyFile)
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per record")
	return c
}

type verifyJSON struct {
	Dir       string         `json:"dir"`
	OK        bool           `json:"ok"`
	Records   uint64         `json:"records"`
	Segments  int            `json:"segments"`
	Recovery  string         `json:"recovery,omitempty"`
	Consumers []consumerInfo `json:"consumers,omitempty"`
	Error     string         `json:"error,omitempty"`
	Segment   string         `json:"segment,omitempty"`
	Pos       *int64         `json:"pos,omitempty"`
	Offset    *uint64        `json:"offset,omitempty"`
}

func journalVerifyCmd() *cobra.Command {
	var keyFile string
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify DIR",
		Short: "Check every record of a journal",
		Long: `Read every retained record of a journal, checking its CRC, framing,
offset sequence, decryption and decoding, and every consumer's committed
offset. The first problem is reported with its segment file, byte position
and offset, and the exit status is 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			rep := verifyJSON{Dir: args[0]}
			report := func(err error) error {
				if err != nil {
					rep.Error = oneLine(err.Error())
					var ce *journal.CorruptError
					if errors.As(err, &ce) {
						rep.Segment, rep.Pos, rep.Offset = filepath.Join(args[0], ce.Segment), &ce.Pos, &ce.Offset
					}
				}
				rep.OK = err == nil
				if asJSON {
					if werr := writeJSON(c.OutOrStdout(), rep); werr != nil {
						return werr
					}
				} else if err == nil {
					fmt.Fprintf(c.OutOrStdout(), "ok: %d records in %d segments\n", rep.Records, rep.Segments)
				}
				return err
			}
			j, err := openJournal(c, args[0], keyFile)
			if err != nil {
				return report(err)
			}
			defer j.Close(context.Background())
			if r := j.Recovery(); r != nil {
				rep.Recovery = r.String()
			}
			rep.Segments = len(j.Segments())
			r, err := j.NewReader(j.FirstOffset())
			if err != nil {
				return report(err)
			}
			defer r.Close()
			var ev semevent.Event
			for {
				_, err := r.Next(&ev)
				if err == io.EOF {
					break
				}
				if err != nil {
					return report(fmt.Errorf("journal %s: %w", args[0], err))
				}
				rep.Records++
			}
			cs, err := consumers(j)
			if err != nil {
				return report(err)
			}
			rep.Consumers = cs
			for _, ci := range cs {
				if ci.Problem != "" {
					return report(fmt.Errorf("journal %s: consumer %s: %s", args[0], ci.Name, ci.Problem))
				}
			}
			return report(nil)
		},
	}
	keyFileFlag(c, &keyFile)
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}
