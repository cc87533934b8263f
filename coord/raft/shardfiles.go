package raft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/internal/coordlog"
	"github.com/vexfs/semevent/propagation/journal"
)

// Each shard of a node keeps, in <Dir>/shards/<n>/:
//
//	IDENTITY  who the directory belongs to, written once at creation
//	STATE     the state machine's checkpoint, replaced at every Sync
//	journal/  the applied records (propagation/journal, MetaSize 24)
//
// IDENTITY: magic "SEid" | version u8 (1) | deployment u64 | shard u32 |
// shards u32 | node u64 | crc32c u32 of the rest.
//
// STATE: magic "SEst" | version u8 (1) | applied u64 | journal next u64 |
// fresh first u64 (non-zero while a fresh start is under way) | window
// count u32 | count × (ID 16 bytes | index u64 | proposal id u64)
// | crc32c u32 of the rest.
// Integers are little-endian.
const (
	identityName    = "IDENTITY"
	stateName       = "STATE"
	journalName     = "journal"
	identityMagic   = "SEid"
	stateMagic      = "SEst"
	identityVersion = 1
	stateVersion    = 1
	identitySize    = 4 + 1 + 8 + 4 + 4 + 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrForeignDir is wrapped by *[DirError].
var ErrForeignDir = errors.New("coord/raft: data directory belongs to another cluster, shard or node")

// DirError reports a shard directory whose IDENTITY names another
// deployment, shard or node than the Options starting it, or that cannot
// be read as one. Its records are never mixed into this shard. A node
// started with another shard count gets a *DirError too, wrapping
// coord.ErrMembership as well.
type DirError struct {
	Dir   string // the shard directory
	Field string // "deployment", "shard", "shards", "node" or "identity"
	Want  uint64 // this node's value
	Got   uint64 // the directory's
	Err   error  // for Field "identity": why the file cannot be read
}

func (e *DirError) Error() string {
	if e.Field == "identity" {
		return fmt.Sprintf("coord/raft: %s/%s: %v", e.Dir, identityName, e.Err)
	}
	return fmt.Sprintf("coord/raft: %s belongs to %s %d, this node is %s %d", e.Dir, e.Field, e.Got, e.Field, e.Want)
}

// Unwrap returns [ErrForeignDir] (and coord.ErrMembership for a shard
// count that differs).
func (e *DirError) Unwrap() []error {
	errs := []error{ErrForeignDir}
	if e.Field == "shards" {
		errs = append(errs, coord.ErrMembership)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// identity is who a shard directory belongs to.
type identity struct {
	deployment uint64
	shard      uint32
	shards     uint32
	node       uint64
}

func (id identity) encode() []byte {
	b := make([]byte, 0, identitySize)
	b = append(b, identityMagic...)
	b = append(b, identityVersion)
	b = binary.LittleEndian.AppendUint64(b, id.deployment)
	b = binary.LittleEndian.AppendUint32(b, id.shard)
	b = binary.LittleEndian.AppendUint32(b, id.shards)
	b = binary.LittleEndian.AppendUint64(b, id.node)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeIdentity(b []byte) (identity, error) {
	if len(b) != identitySize {
		return identity{}, fmt.Errorf("%d bytes, want %d", len(b), identitySize)
	}
	if string(b[:4]) != identityMagic || b[4] != identityVersion {
		return identity{}, errors.New("bad magic or version")
	}
	if got, want := binary.LittleEndian.Uint32(b[len(b)-4:]), crc32.Checksum(b[:len(b)-4], castagnoli); got != want {
		return identity{}, fmt.Errorf("checksum %#08x, want %#08x", got, want)
	}
	return identity{
		deployment: binary.LittleEndian.Uint64(b[5:]),
		shard:      binary.LittleEndian.Uint32(b[13:]),
		shards:     binary.LittleEndian.Uint32(b[17:]),
		node:       binary.LittleEndian.Uint64(b[21:]),
	}, nil
}

// checkIdentity makes dir a shard directory of want: it writes IDENTITY
// (durably) if dir has none, else checks it. created reports a new one.
func checkIdentity(fsys journal.FS, dir string, want identity) (created bool, err error) {
	b, err := readFile(fsys, filepath.Join(dir, identityName))
	if errors.Is(err, fs.ErrNotExist) {
		if err := fsys.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("coord/raft: %w", err)
		}
		// A directory with a journal but no IDENTITY was not made by this
		// version, or lost its identity: refuse rather than adopt it.
		if _, err := fsys.ReadDir(filepath.Join(dir, journalName)); err == nil {
			return false, &DirError{Dir: dir, Field: "identity", Err: fmt.Errorf("%w: a journal without an identity file", fs.ErrNotExist)}
		}
		if err := writeFileDurably(fsys, dir, identityName, want.encode()); err != nil {
			return false, err
		}
		return true, fsys.SyncDir(filepath.Dir(dir))
	}
	if err != nil {
		return false, &DirError{Dir: dir, Field: "identity", Err: err}
	}
	got, err := decodeIdentity(b)
	if err != nil {
		return false, &DirError{Dir: dir, Field: "identity", Err: err}
	}
	for _, f := range []struct {
		name      string
		want, got uint64
	}{
		{"deployment", want.deployment, got.deployment},
		{"shard", uint64(want.shard), uint64(got.shard)},
		{"node", want.node, got.node},
		{"shards", uint64(want.shards), uint64(got.shards)},
	} {
		if f.want != f.got {
			return false, &DirError{Dir: dir, Field: f.name, Want: f.want, Got: f.got}
		}
	}
	return false, nil
}

// smState is the state machine's checkpoint: the last applied Raft index,
// the journal's next offset when it was taken, and the exactly-once
// window as of that offset. Records after journalNext are replayed into
// the window at Open.
type smState struct {
	applied     uint64
	journalNext uint64
	freshFirst  uint64 // non-zero: a fresh start at this offset is under way
	window      []coordlog.WindowEntry
}

func (s *smState) encode() []byte {
	b := make([]byte, 0, 37+32*len(s.window))
	b = append(b, stateMagic...)
	b = append(b, stateVersion)
	b = binary.LittleEndian.AppendUint64(b, s.applied)
	b = binary.LittleEndian.AppendUint64(b, s.journalNext)
	b = binary.LittleEndian.AppendUint64(b, s.freshFirst)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.window)))
	for _, e := range s.window {
		id := e.ID.Bytes()
		b = append(b, id[:]...)
		b = binary.LittleEndian.AppendUint64(b, e.Index)
		b = binary.LittleEndian.AppendUint64(b, e.Tag)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeState(b []byte) (*smState, error) {
	if len(b) < 37 || string(b[:4]) != stateMagic || b[4] != stateVersion {
		return nil, errors.New("bad size, magic or version")
	}
	if got, want := binary.LittleEndian.Uint32(b[len(b)-4:]), crc32.Checksum(b[:len(b)-4], castagnoli); got != want {
		return nil, fmt.Errorf("checksum %#08x, want %#08x", got, want)
	}
	s := &smState{
		applied:     binary.LittleEndian.Uint64(b[5:]),
		journalNext: binary.LittleEndian.Uint64(b[13:]),
		freshFirst:  binary.LittleEndian.Uint64(b[21:]),
	}
	n := binary.LittleEndian.Uint32(b[29:])
	body := b[33 : len(b)-4]
	if uint64(len(body)) != uint64(n)*32 {
		return nil, fmt.Errorf("%d window entries in %d bytes", n, len(body))
	}
	s.window = make([]coordlog.WindowEntry, n)
	for i := range s.window {
		p := body[i*32:]
		s.window[i] = coordlog.WindowEntry{ID: semevent.IDFromBytes([16]byte(p[:16])), Index: binary.LittleEndian.Uint64(p[16:]), Tag: binary.LittleEndian.Uint64(p[24:])}
	}
	return s, nil
}

func readFile(fsys journal.FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFileDurably replaces dir/name with data: temporary file, fsync,
// rename, directory fsync.
func writeFileDurably(fsys journal.FS, dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("coord/raft: write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("coord/raft: write %s: %w", path, err)
	}
	return nil
}
