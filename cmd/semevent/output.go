package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/vexfs/semevent"
)

// eventJSON is an event as the commands print it with --json.
type eventJSON struct {
	Offset   *uint64           `json:"offset,omitempty"`
	ID       string            `json:"id,omitempty"`
	Kind     string            `json:"kind"`
	Topic    string            `json:"topic"`
	Boundary string            `json:"boundary"`
	Tenant   string            `json:"tenant,omitempty"`
	Path     string            `json:"path,omitempty"`
	OldPath  string            `json:"old_path,omitempty"`
	Inode    uint64            `json:"inode,omitempty"`
	PID      uint32            `json:"pid,omitempty"`
	UID      uint32            `json:"uid,omitempty"`
	Offset_  int64             `json:"file_offset,omitempty"`
	Size     int64             `json:"size,omitempty"`
	Time     string            `json:"time,omitempty"`
	Trace    string            `json:"traceparent,omitempty"`
	Cause    string            `json:"cause,omitempty"`
	Attrs    map[string]string `json:"attrs,omitempty"`
	Data     string            `json:"data_hex,omitempty"`
	Meta     string            `json:"meta_hex,omitempty"` // the journal record's metadata
}

func toJSON(off *uint64, meta []byte, ev *semevent.Event) eventJSON {
	j := eventJSON{
		Offset: off, Kind: ev.Kind.String(), Topic: ev.TopicOrKind(), Boundary: ev.Boundary.String(),
		Tenant: ev.Tenant, Path: ev.Path, OldPath: ev.OldPath, Inode: ev.Inode, PID: ev.PID, UID: ev.UID,
		Offset_: ev.Offset, Size: ev.Size,
	}
	if !ev.ID.IsZero() {
		j.ID = ev.ID.String()
	}
	if ev.Time != 0 {
		j.Time = time.Unix(0, ev.Time).UTC().Format(time.RFC3339Nano)
	}
	if ev.Trace.IsValid() {
		j.Trace = ev.Trace.String()
	}
	if !ev.Cause.IsZero() {
		j.Cause = ev.Cause.String()
	}
	if len(ev.Attrs) > 0 {
		j.Attrs = make(map[string]string, len(ev.Attrs))
		for _, a := range ev.Attrs {
			j.Attrs[a.Key] = a.Value
		}
	}
	if len(ev.Data) > 0 {
		j.Data = hex.EncodeToString(ev.Data)
	}
	if meta != nil {
		j.Meta = hex.EncodeToString(meta)
	}
	return j
}

// printEvent writes one event: a JSON line, or a line of text. meta, the
// journal record's metadata, is printed in hex when non-nil.
func printEvent(w io.Writer, asJSON bool, off *uint64, meta []byte, ev *semevent.Event) error {
	if asJSON {
		return json.NewEncoder(w).Encode(toJSON(off, meta, ev))
	}
	var prefix string
	if off != nil {
		prefix = fmt.Sprintf("%d\t", *off)
	}
	ts := "-"
	if ev.Time != 0 {
		ts = time.Unix(0, ev.Time).UTC().Format(time.RFC3339Nano)
	}
	p := ev.Path
	if ev.OldPath != "" {
		p = ev.OldPath + " -> " + ev.Path
	}
	tenant := ""
	if ev.Tenant != "" {
		tenant = "\ttenant=" + ev.Tenant
	}
	m := ""
	if meta != nil {
		m = "\tmeta=" + hex.EncodeToString(meta)
	}
	_, err := fmt.Fprintf(w, "%s%s\t%s\t%s\t%s%s%s\n", prefix, ts, ev.Boundary, ev.Kind, p, tenant, m)
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
