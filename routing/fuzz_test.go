package routing_test

import (
	"errors"
	"testing"

	"github.com/vexfs/semevent/filter/filtertest"
	"github.com/vexfs/semevent/routing"
)

// FuzzRuleSet decodes arbitrary YAML as a rule set and compiles it: bad
// input must give a *RuleSetError, never a panic, and a compiled table
// must route without panicking.
func FuzzRuleSet(f *testing.F) {
	f.Add([]byte(yamlRules))
	f.Add([]byte("rules:\n  - {subject: \"a.>\", path: \"/x/**\", contains: [\"s\"], when: \"Size > 1\", to: [d]}\n"))
	f.Add([]byte("groups:\n  - {name: g, members: [a, b], strategy: least-loaded}\nrules:\n  - {to: [g]}\n"))
	f.Add([]byte("rules: [{subject: \"a..b\"}]"))
	f.Add([]byte(`{"groups": [{"name": "g", "members": ["a"], "strategy": "hash", "key": "attr:x"}], "rules": [{"to": ["g"]}]}`))
	f.Add([]byte("{\n\t\"rules\": [\n\t\t{\"to\": [\"a\"]}\n\t]\n}\n"))
	evs := filtertest.Events(5, 32)
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := routing.ParseRuleSet(data)
		if err != nil {
			if !errors.Is(err, routing.ErrInvalidRuleSet) {
				t.Fatalf("ParseRuleSet error %v does not wrap ErrInvalidRuleSet", err)
			}
			return
		}
		tab, err := routing.New(rs, nil)
		if err != nil {
			var rse *routing.RuleSetError
			if !errors.As(err, &rse) || len(rse.Errors) == 0 {
				t.Fatalf("New error %v is not a non-empty *RuleSetError", err)
			}
			return
		}
		var buf []string
		for _, ev := range evs {
			buf = tab.Route(ev, buf[:0])
		}
	})
}
