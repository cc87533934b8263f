package routing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// ParseRuleSet decodes a rule set from YAML, which also reads JSON (a JSON
// document is YAML). Unknown fields are errors. A decoding error is a
// *[RuleSetError] with one problem whose message says the line; an empty
// document is an empty rule set.
func ParseRuleSet(data []byte) (rs *RuleSet, err error) {
	defer func() {
		if r := recover(); r != nil { // the YAML decoder panics on some inputs
			rs, err = nil, parseError(fmt.Errorf("yaml decoder panic: %v", r))
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	rs = &RuleSet{}
	if err := dec.Decode(rs); err != nil && !errors.Is(err, io.EOF) {
		return nil, parseError(err)
	}
	return rs, nil
}

func parseError(err error) error {
	return &RuleSetError{Errors: []*RuleError{{Kind: "file", Field: "yaml", Pos: -1, Msg: err.Error(), Err: err}}}
}

// ReadRuleSet reads and decodes the rule set file name (YAML or JSON).
func ReadRuleSet(name string) (*RuleSet, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("routing: read rule set: %w", err)
	}
	rs, err := ParseRuleSet(data)
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
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("routing: read rule set: %w", err)
	}
	return t.loadData(ctx, name, data)
}
