package rules

import (
	"testing"

	"github.com/vexfs/semevent"
)

// FuzzParseRuleSet: any input either fails with an error or yields a rule
// set that Load accepts or rejects with an error; nothing panics.
func FuzzParseRuleSet(f *testing.F) {
	f.Add([]byte("rules:\n  - name: a\n    when: Size > 1\n    then: [{action: emit}]\n"))
	f.Add([]byte(`{"rules":[{"name":"d","when":"Kind == \"delete\"","kinds":["delete"],"then":[{"action":"emit","params":{"a":"b"}}]}]}`))
	f.Add([]byte("rules: [{name: x, when: 'Size >', then: []}]"))
	f.Add([]byte("rules:\n  - name: k\n    kinds: [nosuchkind]\n"))
	e, err := New(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRuleSet(data)
		if err != nil {
			return
		}
		if err := e.Load(rs); err == nil {
			_ = e.Handle(t.Context(), &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a", Size: 3})
		}
	})
}
