package access_test

import (
	"path"
	"strings"
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

// FuzzPathDecision: a decision depends on the cleaned path only, so no
// spelling of a path under /secret escapes the deny, and nothing outside
// /data is published under the /data grant.
func FuzzPathDecision(f *testing.F) {
	for _, s := range []string{"/data/../secret/keys.pem", "//secret/keys.pem", "/./secret/keys.pem", "/data/x", "../secret", "/data/../../etc/passwd", ""} {
		f.Add(s)
	}
	a, err := access.New(&access.Policy{Roles: []access.Role{{Name: "r", Grants: []access.Grant{
		{Ops: []access.Op{access.OpSubscribe}},
		{Deny: true, Ops: []access.Op{access.OpSubscribe}, Paths: []string{"/secret/**"}},
		{Ops: []access.Op{access.OpPublish}, Paths: []string{"/data/**"}},
	}}}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	p := &access.Principal{User: "u", Roles: []string{"r"}}
	f.Fuzz(func(t *testing.T, s string) {
		ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: s}
		sub := a.Authorize(p, access.OpSubscribe, ev) == nil
		pub := a.Authorize(p, access.OpPublish, ev) == nil
		c := path.Clean(s)
		if s != "" && strings.HasPrefix(c, "/") {
			cev := &semevent.Event{Kind: semevent.KindFileWrite, Path: c}
			if sub != (a.Authorize(p, access.OpSubscribe, cev) == nil) || pub != (a.Authorize(p, access.OpPublish, cev) == nil) {
				t.Fatalf("%q and its cleaned form %q are decided differently", s, c)
			}
		}
		if sub && (c == "/secret" || strings.HasPrefix(c, "/secret/")) {
			t.Fatalf("subscribe to %q (%q) allowed despite the deny on /secret/**", s, c)
		}
		if pub && c != "/data" && !strings.HasPrefix(c, "/data/") {
			t.Fatalf("publish of %q (%q) allowed outside /data", s, c)
		}
	})
}
