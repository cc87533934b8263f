package access

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParsePolicy reads a policy from JSON and compiles it to check it: a
// syntax error names its byte offset, and an invalid policy yields a
// *PolicyError listing every problem. Unknown fields are errors, so a
// misspelt "deny" cannot silently become an allow.
func ParsePolicy(data []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("access: policy at byte %d: %w", dec.InputOffset(), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("access: policy at byte %d: data after the policy", dec.InputOffset())
	}
	if _, err := compile(&p); err != nil {
		return nil, err
	}
	return &p, nil
}
