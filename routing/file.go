package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseRuleSet decodes a rule set from JSON (format "json") or YAML
// ("yaml" or "yml"). Unknown fields are errors. A decoding error is a
// *[RuleSetError] with one problem.
func ParseRuleSet(data []byte, format string) (*RuleSet, error) {
	rs := &RuleSet{}
	var err error
	switch strings.ToLower(format) {
	case "json":
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(rs)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &RuleSetError{Errors: []*RuleError{{Kind: "file", Field: "json", Pos: int(se.Offset), Msg: se.Error(), Err: err}}}
		}
	case "yaml", "yml":
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(rs)
		if err != nil && err.Error() == "EOF" {
			err = nil
		}
	default:
		return nil, &RuleSetError{Errors: []*RuleError{{Kind: "file", Field: "format", Pos: -1, Msg: fmt.Sprintf("unknown format %q (want json or yaml)", format)}}}
	}
	if err != nil {
		return nil, &RuleSetError{Errors: []*RuleError{{Kind: "file", Field: format, Pos: -1, Msg: err.Error(), Err: err}}}
	}
	return rs, nil
}

// ReadRuleSet reads and decodes the rule set file name, choosing JSON or
// YAML by its extension (.json, .yaml, .yml).
func ReadRuleSet(name string) (*RuleSet, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("routing: read rule set: %w", err)
	}
	rs, err := ParseRuleSet(data, strings.TrimPrefix(filepath.Ext(name), "."))
	if err != nil {
		var rse *RuleSetError
		if errors.As(err, &rse) {
			rse.Source = name
		}
		return nil, err
	}
	return rs, nil
}

// LoadFile reads the rule set file name and loads it as [Table.Load] does.
// Errors in the file name it as their Source.
func (t *Table) LoadFile(name string) error { return t.LoadFileContext(context.Background(), name) }

// LoadFileContext is LoadFile on behalf of ctx's caller; see LoadContext.
func (t *Table) LoadFileContext(ctx context.Context, name string) error {
	rs, err := ReadRuleSet(name)
	if err != nil {
		return err
	}
	if err := t.LoadContext(ctx, rs); err != nil {
		var rse *RuleSetError
		if errors.As(err, &rse) {
			rse.Source = name
		}
		return err
	}
	return nil
}
