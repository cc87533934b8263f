package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vexfs/semevent/access/audit"
)

func auditCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Check audit trails (package access/audit)",
	}
	c.AddCommand(auditVerifyCmd())
	return c
}

// readPublicKey reads an ed25519 public key: 64 hex digits, or 32 raw
// bytes.
func readPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if t := bytes.TrimSpace(b); len(t) == 2*ed25519.PublicKeySize {
		k, err := hex.DecodeString(string(t))
		if err == nil {
			return k, nil
		}
	}
	if len(b) == ed25519.PublicKeySize {
		return b, nil
	}
	return nil, fmt.Errorf("public key file %s: want 64 hex digits or 32 bytes, got %d bytes", path, len(b))
}

// parseAnchor reads SEQ:HASH (the hash in hex).
func parseAnchor(s string) (*audit.Anchor, error) {
	seq, hash, ok := strings.Cut(s, ":")
	if !ok {
		return nil, usagef("--anchor %q: want SEQ:HASH", s)
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return nil, usagef("--anchor %q: sequence %q is not a number", s, seq)
	}
	h, err := hex.DecodeString(hash)
	if err != nil || len(h) != 32 {
		return nil, usagef("--anchor %q: hash is not 64 hex digits", s)
	}
	a := &audit.Anchor{Seq: n}
	copy(a.Hash[:], h)
	return a, nil
}

// formatAnchor writes an anchor as parseAnchor reads it.
func formatAnchor(a audit.Anchor) string {
	return fmt.Sprintf("%d:%s", a.Seq, hex.EncodeToString(a.Hash[:]))
}

type auditJSON struct {
	File        string `json:"file"`
	OK          bool   `json:"ok"`
	Trail       string `json:"trail,omitempty"`
	Records     int    `json:"records"`
	Checkpoints int    `json:"checkpoints"`
	Quarantined int    `json:"quarantined"`
	Unsigned    int    `json:"unsigned"`
	Head        string `json:"head,omitempty"` // SEQ:HASH, for --anchor next time
	Error       string `json:"error,omitempty"`
	Index       *int   `json:"index,omitempty"`
	Offset      *int64 `json:"offset,omitempty"`
}

func auditVerifyCmd() *cobra.Command {
	var keyFile, anchor, trail string
	var allowTail, asJSON bool
	c := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify an audit trail file: chain, signatures, identity, anchor",
		Long: `Verify an audit trail written by an audit.FileStore: every record decodes,
the hash chain and sequence numbers are unbroken, every checkpoint's
signature verifies with the public key, the trail has the given identity,
and the anchor (a chain head kept elsewhere, SEQ:HASH as printed by a
previous verify) is still in it. The first broken record is reported with
its index and byte offset, and the exit status is 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if keyFile == "" {
				return usagef("audit verify needs --key-file (the trail's ed25519 public key)")
			}
			pub, err := readPublicKey(keyFile)
			if err != nil {
				return err
			}
			opts := &audit.VerifyOptions{AllowUnsignedTail: allowTail}
			if anchor != "" {
				if opts.Anchor, err = parseAnchor(anchor); err != nil {
					return err
				}
			}
			if trail != "" {
				if opts.Trail, err = audit.ParseTrailID(trail); err != nil {
					return usagef("--trail: %v", err)
				}
			}
			if _, err := os.Stat(args[0]); err != nil {
				return fmt.Errorf("audit trail: %w", err)
			}
			rep, err := audit.VerifyFile(args[0], pub, opts)
			out := auditJSON{File: args[0], OK: err == nil}
			if rep != nil {
				out.Records, out.Checkpoints, out.Quarantined, out.Unsigned = rep.Records, rep.Checkpoints, rep.Quarantined, rep.Unsigned
				if rep.Records > 0 {
					out.Trail = rep.Trail.String()
					out.Head = formatAnchor(rep.Head)
				}
			}
			if err != nil {
				var ve *audit.VerifyError
				if errors.As(err, &ve) {
					out.Index = &ve.Index
					if ve.Offset >= 0 {
						out.Offset = &ve.Offset
					}
				}
				err = fmt.Errorf("audit trail %s: %w", args[0], err)
				out.Error = oneLine(err.Error())
			}
			if asJSON {
				if werr := writeJSON(c.OutOrStdout(), out); werr != nil {
					return werr
				}
			} else if err == nil {
				fmt.Fprintf(c.OutOrStdout(), "ok: trail %s, %d records, %d signed checkpoints, %d quarantined, %d unsigned\nhead %s\n",
					out.Trail, out.Records, out.Checkpoints, out.Quarantined, out.Unsigned, out.Head)
			}
			return err
		},
	}
	c.Flags().StringVar(&keyFile, "key-file", "", "the trail's ed25519 public key: 64 hex digits or 32 bytes (required)")
	c.Flags().StringVar(&anchor, "anchor", "", "SEQ:HASH of a chain head kept outside the trail; it must still be there")
	c.Flags().StringVar(&trail, "trail", "", "the trail's identity (32 hex digits); another trail signed by the same key fails")
	c.Flags().BoolVar(&allowTail, "allow-unsigned-tail", false, "accept records after the last checkpoint (a trail still being written)")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}
