package journal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// instanceFile holds the journal's instance id: 32 hex digits and a newline.
const instanceFile = "INSTANCE"

// Instance returns the journal's instance id: 16 random bytes chosen when
// the directory was first opened by a journal that knew about instance ids,
// and fixed from then on (a file named INSTANCE in the directory, written
// to a temporary name, fsynced and renamed). A different id means a
// different journal, even at the same path: the directory was deleted and
// recreated. Cursors into the journal (package since) carry it.
func (j *Journal) Instance() [16]byte { return j.instance }

// loadInstance reads the directory's instance id, creating it when missing.
func (j *Journal) loadInstance() error {
	name := filepath.Join(j.dir, instanceFile)
	f, err := j.fs.OpenFile(name, os.O_RDONLY, 0)
	if err == nil {
		defer f.Close()
		var b [33]byte
		n, err := io.ReadFull(f, b[:])
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("journal: read %s: %w", name, err)
		}
		if n != 33 || b[32] != '\n' {
			return &CorruptError{Segment: instanceFile, Reason: "instance file is not 32 hex digits and a newline"}
		}
		if _, err := hex.Decode(j.instance[:], b[:32]); err != nil {
			return &CorruptError{Segment: instanceFile, Reason: "instance file is not 32 hex digits and a newline"}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	rand.Read(j.instance[:])
	if err := j.writeFileDurably(instanceFile, []byte(hex.EncodeToString(j.instance[:])+"\n")); err != nil {
		return fmt.Errorf("journal: create %s: %w", instanceFile, err)
	}
	return nil
}
