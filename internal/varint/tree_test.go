package varint

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTreeDecodesMinimalVarintsOnly keeps issue 18 item 23 fixed: no
// decoder of the module (outside tests, this package and the separate
// peerbench module) reads varints with encoding/binary, which accepts
// padded encodings; they use this package.
func TestTreeDecodesMinimalVarintsOnly(t *testing.T) {
	root := filepath.Join("..", "..")
	banned := []string{"binary.Uvarint(", "binary.Varint(", "binary.ReadUvarint(", "binary.ReadVarint("}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "peerbench", "varint", "testdata", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range banned {
			if strings.Contains(string(b), s) {
				t.Errorf("%s uses %s: decode with internal/varint, which refuses non-minimal encodings", path, strings.TrimSuffix(s, "("))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
