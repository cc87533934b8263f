package access_test

import (
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
)

// FuzzParsePolicy feeds arbitrary JSON to ParsePolicy: it must never
// panic, and a policy it accepts must compile and decide without panicking.
func FuzzParsePolicy(f *testing.F) {
	f.Add(`{"roles":[{"name":"r","grants":[{"ops":["subscribe"],"topics":["fs.>"],"paths":["/data/**"],"when":"event.UID == principal.UID"}]}]}`)
	f.Add(`{"roles":[{"name":"r","grants":[{"deny":true,"ops":["publish","admin"],"topics":["a.*.b"]}]}]}`)
	f.Add(`{"roles":[{"name":"","grants":[{"ops":["nope"]}]}]}`)
	f.Add(`{"roles":[{"name":"r","grants":[{"ops":["run"],"topics":["a.>.b"],"paths":["[z-a]"],"when":"event.Size >"}]}]} trailing`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := access.ParsePolicy([]byte(s))
		if err != nil {
			return
		}
		a, err := access.New(p, nil)
		if err != nil {
			t.Fatalf("ParsePolicy accepted a policy New rejects: %v", err)
		}
		pr := &access.Principal{User: "u", Roles: []string{}}
		for _, r := range p.Roles {
			pr.Roles = append(pr.Roles, r.Name)
		}
		_ = a.Authorize(pr, access.OpSubscribe, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/x", Topic: "a.b.c"})
	})
}
