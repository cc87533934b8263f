package since_test

import (
	"context"

	"maps"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/glob"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/since"
)

// The brute-force reference: a concrete file system of objects, each with
// an identity and a version, changed by random valid operations that also
// yield the events a watcher would journal.

type obj struct {
	id  int
	dir bool
	ver int
}

type fsModel struct {
	files  map[string]*obj // path → object; "/r" is the root and always a dir
	nextID int
}

const root = "/r"

func newModel(r *rand.Rand) *fsModel {
	m := &fsModel{files: map[string]*obj{root: {id: 0, dir: true}}, nextID: 1}
	for range 12 { // an initial tree nobody journaled
		m.step(r, nil)
	}
	return m
}

func (m *fsModel) clone() map[string]obj {
	c := make(map[string]obj, len(m.files))
	for p, o := range m.files {
		c[p] = *o
	}
	return c
}

var names = []string{"a", "b", "c", "d"}

// randPath returns a random path under the root, up to three levels deep.
func randPath(r *rand.Rand) string {
	p := root
	for range 1 + r.IntN(3) {
		p += "/" + names[r.IntN(len(names))]
	}
	return p
}

func (m *fsModel) existing(r *rand.Rand, wantDir int) string { // wantDir: -1 any, 0 file, 1 dir
	var ps []string
	for p, o := range m.files {
		if p != root && (wantDir < 0 || o.dir == (wantDir == 1)) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return ""
	}
	slices.Sort(ps)
	return ps[r.IntN(len(ps))]
}

func (m *fsModel) isEmptyDir(p string) bool {
	for q := range m.files {
		if strings.HasPrefix(q, p+"/") {
			return false
		}
	}
	return true
}

func (m *fsModel) parentIsDir(p string) bool {
	o := m.files[path.Dir(p)]
	return o != nil && o.dir
}

// step applies one random valid operation and appends its event (if evs is
// not nil); it returns false if the operation it drew was not valid now.
func (m *fsModel) step(r *rand.Rand, evs *[]*semevent.Event) bool {
	emit := func(k semevent.Kind, p, old string) {
		if evs != nil {
			*evs = append(*evs, &semevent.Event{Kind: k, Path: p, OldPath: old})
		}
	}
	switch r.IntN(10) {
	case 0, 1: // create a file or a directory
		p := randPath(r)
		if m.files[p] != nil || !m.parentIsDir(p) {
			return false
		}
		dir := r.IntN(2) == 0
		m.files[p] = &obj{id: m.nextID, dir: dir}
		m.nextID++
		if dir {
			emit(semevent.KindDirCreate, p, "")
		} else {
			emit(semevent.KindFileCreate, p, "")
		}
	case 2, 3: // write, or chmod a file or directory
		if r.IntN(3) == 0 {
			p := m.existing(r, -1)
			if p == "" {
				return false
			}
			m.files[p].ver++
			emit(semevent.KindFileChmod, p, "")
			break
		}
		p := m.existing(r, 0)
		if p == "" {
			return false
		}
		m.files[p].ver++
		emit(semevent.KindFileWrite, p, "")
	case 4: // delete a file or an empty directory
		p := m.existing(r, -1)
		if p == "" {
			return false
		}
		o := m.files[p]
		if o.dir && !m.isEmptyDir(p) {
			return false
		}
		delete(m.files, p)
		if o.dir {
			emit(semevent.KindDirDelete, p, "")
		} else {
			emit(semevent.KindFileDelete, p, "")
		}
	case 5, 6, 7: // rename a file or a directory, maybe over another
		old := m.existing(r, -1)
		if old == "" {
			return false
		}
		var to string
		if r.IntN(4) == 0 {
			to = m.existing(r, -1)
		} else {
			to = randPath(r)
		}
		if to == "" || to == old || strings.HasPrefix(to, old+"/") || strings.HasPrefix(old, to+"/") || !m.parentIsDir(to) {
			return false
		}
		src := m.files[old]
		if dst := m.files[to]; dst != nil {
			if dst.dir != src.dir || (dst.dir && !m.isEmptyDir(to)) {
				return false
			}
		}
		moved := map[string]*obj{}
		for q, o := range m.files {
			if q == old || strings.HasPrefix(q, old+"/") {
				moved[to+q[len(old):]] = o
				delete(m.files, q)
			}
		}
		delete(m.files, to)
		for q, o := range moved {
			m.files[q] = o
		}
		emit(semevent.KindFileRename, to, old)
	case 8: // events that change nothing on disk
		p := randPath(r)
		emit(semevent.KindFileOpen, p, "")
		emit(semevent.KindFileRead, p, "")
	case 9: // another tenant's operation, which must be ignored
		if evs != nil {
			*evs = append(*evs, &semevent.Event{Kind: semevent.KindFileDelete, Path: m.existingOr(r), Tenant: "other"})
		}
	}
	return true
}

func (m *fsModel) existingOr(r *rand.Rand) string {
	if p := m.existing(r, -1); p != "" {
		return p
	}
	return randPath(r)
}

// view is what a path holds, as a consumer of the answer can tell: whether
// it exists, and if it holds the unmodified object that was at some path
// at the cursor, that path ("" for anything created or modified since).
type view struct {
	exists bool
	same   string
}

// truth is the brute-force answer for path p.
func truth(before, after map[string]obj, p string) view {
	o, ok := after[p]
	if !ok {
		return view{}
	}
	for q, b := range before {
		if b.id == o.id && b.ver == o.ver {
			return view{exists: true, same: q}
		}
	}
	return view{exists: true}
}

// resolve is what the answer says path p holds, given the tree at the
// cursor: the rules documented on since.Op.
func resolve(before map[string]obj, byPath map[string]since.Change, p string) view {
	if c, ok := byPath[p]; ok {
		switch c.Op {
		case since.Created:
			return view{exists: true}
		case since.Deleted:
			return view{}
		case since.Renamed:
			if c.Modified {
				return view{exists: true}
			}
			return view{exists: true, same: c.OldPath}
		case since.Modified:
			return view{exists: true}
		}
	}
	for d := path.Dir(p); ; d = path.Dir(d) {
		if c, ok := byPath[d]; ok && c.Op != since.Modified {
			if c.Op == since.Renamed {
				o := c.OldPath + p[len(d):]
				if _, ok := before[o]; !ok {
					return view{}
				}
				return view{exists: true, same: o}
			}
			return view{} // created or deleted: anything below is listed
		}
		if d == "/" || d == "." {
			break
		}
	}
	if _, ok := before[p]; ok {
		return view{exists: true, same: p}
	}
	return view{}
}

func index(t *testing.T, cs []since.Change) map[string]since.Change {
	t.Helper()
	byPath := map[string]since.Change{}
	for _, c := range cs {
		if _, dup := byPath[c.Path]; dup {
			t.Fatalf("two changes for %s: %v", c.Path, cs)
		}
		byPath[c.Path] = c
	}
	return byPath
}

var globs = []string{"/r/**", "/r/a/**", "/r/*/b", "**/c", "/r/a/*", "/r/[ab]/**", "/r/b/a/d", "/r/*/*/*"}

// check compares the answer with the brute force for every path either
// side knows, and each listed change with what it claims.
func check(t *testing.T, seed uint64, before, after map[string]obj, named, renameDst map[string]bool, res *since.Result, filtered map[string]*since.Result) {
	t.Helper()
	if res.Fresh != since.NotFresh {
		t.Fatalf("seed %d: fresh result %v", seed, res.Fresh)
	}
	byPath := index(t, res.Changes)
	universe := map[string]bool{}
	for p := range before {
		universe[p] = true
	}
	for p := range after {
		universe[p] = true
	}
	for p := range named {
		universe[p] = true
	}
	for p := range universe {
		if p == root {
			continue
		}
		want, got := truth(before, after, p), resolve(before, byPath, p)
		if want != got {
			t.Fatalf("seed %d: path %s: answer says %+v, brute force %+v\nchanges: %+v", seed, p, got, want, res.Changes)
		}
		for g, fr := range filtered {
			if !glob.MustCompile(g).Match(p) {
				continue
			}
			if got := resolve(before, index(t, fr.Changes), p); got != want {
				t.Fatalf("seed %d: glob %s: path %s: filtered answer says %+v, brute force %+v\nfiltered: %+v\nfull: %+v", seed, g, p, got, want, fr.Changes, res.Changes)
			}
		}
	}
	// Each change claims only what is true.
	for _, c := range res.Changes {
		o, exists := after[c.Path]
		switch c.Op {
		case since.Created:
			if !exists || slices.ContainsFunc(mapValues(before), func(b obj) bool { return b.id == o.id }) {
				t.Fatalf("seed %d: %+v, but %s holds an object that existed at the cursor (or nothing)", seed, c, c.Path)
			}
		case since.Modified, since.Renamed:
			b, ok := objAt(before, o.id)
			if !exists || !ok || (b.ver != o.ver) != (c.Op == since.Modified || c.Modified) {
				t.Fatalf("seed %d: %+v: before %+v after %+v (exists %v)", seed, c, b, o, exists)
			}
		case since.Deleted:
			if exists {
				t.Fatalf("seed %d: %+v, but %s exists", seed, c, c.Path)
			}
			// Needed: without it the answer would say the path exists.
			// (A rename's destination that no event had named before is
			// the one case the journal cannot tell; Deleted errs safe.)
			without := maps.Clone(byPath)
			delete(without, c.Path)
			if !resolve(before, without, c.Path).exists && !renameDst[c.Path] {
				t.Fatalf("seed %d: %+v is not needed: %s did not exist at the cursor\nchanges: %+v", seed, c, c.Path, res.Changes)
			}
		}
	}
}

func mapValues(m map[string]obj) []obj {
	var vs []obj
	for _, o := range m {
		vs = append(vs, o)
	}
	return vs
}

func objAt(m map[string]obj, id int) (obj, bool) {
	for _, o := range m {
		if o.id == id {
			return o, true
		}
	}
	return obj{}, false
}

func appendAll(t *testing.T, j *journal.Journal, evs []*semevent.Event) {
	t.Helper()
	if len(evs) == 0 {
		return
	}
	if _, err := j.AppendBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(context.Background()); err != nil { // SyncNever: make them readable
		t.Fatal(err)
	}
}

// TestQueryMatchesBruteForce journals random histories (file and directory
// creates, writes, chmods, deletes, renames of files and of whole
// directories, over existing targets too, plus reads and another tenant's
// events) and checks the net change Query reports, with and without globs,
// against a brute-force replay on a concrete model, for two consecutive
// queries (the second from the first's cursor).
func TestQueryMatchesBruteForce(t *testing.T) {
	iters := 300
	if v, err := strconv.Atoi(os.Getenv("SEMEVENT_SINCE_ITERS")); err == nil {
		iters = v
	}
	ctx := context.Background()
	for seed := range uint64(iters) {
		r := rand.New(rand.NewPCG(seed, 17))
		m := newModel(r)
		j, err := journal.Open(t.TempDir(), &journal.Options{Sync: journal.SyncNever})
		if err != nil {
			t.Fatal(err)
		}
		var evs []*semevent.Event
		for range r.IntN(20) { // history before the cursor
			m.step(r, &evs)
		}
		appendAll(t, j, evs)
		cursor := since.Now(j, 0)
		for round := range 2 {
			before := m.clone()
			evs = evs[:0]
			for range r.IntN(60) {
				m.step(r, &evs)
			}
			appendAll(t, j, evs)
			if os.Getenv("SEMEVENT_SINCE_DUMP") == strconv.FormatUint(seed, 10) {
				for _, ev := range evs {
					t.Logf("round %d: %v %s %s %s", round, ev.Kind, ev.Path, ev.OldPath, ev.Tenant)
				}
			}
			named, renameDst := map[string]bool{}, map[string]bool{}
			for _, ev := range evs {
				if ev.Kind == semevent.KindFileRename && ev.Tenant == "" {
					// Marks below the source move with it; the
					// destination's own subtree is replaced.
					for q := range renameDst {
						if strings.HasPrefix(q, ev.Path+"/") {
							delete(renameDst, q)
						}
					}
					for q := range maps.Clone(renameDst) {
						if strings.HasPrefix(q, ev.OldPath+"/") {
							delete(renameDst, q)
							renameDst[ev.Path+q[len(ev.OldPath):]] = true
						}
					}
					renameDst[ev.Path] = true
				}
				for _, p := range []string{ev.Path, ev.OldPath} {
					for ; p != "" && p != "/" && p != "."; p = path.Dir(p) {
						named[p] = true
					}
				}
			}
			res, err := since.Query(ctx, j, cursor, nil)
			if err != nil {
				t.Fatal(err)
			}
			filtered := map[string]*since.Result{}
			for _, g := range globs {
				fr, err := since.Query(ctx, j, cursor, &since.Options{Glob: g})
				if err != nil {
					t.Fatal(err)
				}
				filtered[g] = fr
			}
			check(t, seed, before, m.clone(), named, renameDst, res, filtered)
			if res.Records < len(evs) {
				t.Fatalf("seed %d round %d: read %d records, appended %d", seed, round, res.Records, len(evs))
			}
			cursor = res.Cursor
		}
		if err := j.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
