package since

import (
	"path"
	"slices"
	"strings"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/glob"
)

// The net change is computed on a tree of the paths the events name, built
// lazily: a path nobody named is not in it, and stands for whatever the
// nearest named ancestor implies (the object that was there at the cursor,
// moved along with its renamed ancestors).

type state uint8

const (
	stOrig    state = iota // holds an object that existed at the cursor: node.orig
	stAbsent               // holds nothing
	stCreated              // holds an object created after the cursor
)

type node struct {
	name     string
	parent   *node
	kids     map[string]*node
	st       state
	orig     string // stOrig: the object's path at the cursor
	modified bool   // stOrig: its contents or metadata changed
	touched  bool   // an event named this path or a descendant
	// gone: the object the parent implies at this name did not exist at
	// the cursor (the first event here was a create), so its absence now
	// is no change.
	gone bool
}

type tree struct {
	root  node
	nodes int // nodes allocated, for Options.MaxPaths
	max   int
}

func newTree(max int) *tree {
	return &tree{root: node{st: stOrig}, max: max}
}

// join returns the path of name under dir; the root's children are the
// first components of paths ("" for an absolute path's leading slash).
func join(n *node, dir, name string) string {
	if n.parent == nil {
		return name
	}
	return dir + "/" + name
}

// child returns n's child name, adding it with the state n implies there.
func (t *tree) child(n *node, name string) *node {
	if c := n.kids[name]; c != nil {
		return c
	}
	c := &node{name: name, parent: n, st: stAbsent, gone: true}
	if n.st == stOrig {
		c.st, c.orig, c.gone = stOrig, join(n, n.orig, name), false
	}
	if n.kids == nil {
		n.kids = make(map[string]*node)
	}
	n.kids[name] = c
	t.nodes++
	return c
}

// lookup returns the node for p, adding it and its ancestors as needed.
// The ancestors are marked touched: that a path exists now proves its
// ancestors exist, and an ancestor no event had named existed at the
// cursor. An ancestor known to be absent becomes created (the journal
// missed its creation).
func (t *tree) lookup(p string) *node {
	n := &t.root
	for {
		i := strings.IndexByte(p, '/')
		name := p
		if i >= 0 {
			name = p[:i]
		}
		n = t.child(n, name)
		if i < 0 {
			return n
		}
		n.touched = true
		if n.st == stAbsent {
			n.st = stCreated
		}
		p = p[i+1:]
	}
}

func (n *node) clear() {
	n.kids = nil
	n.modified = false
}

func (t *tree) create(p string) {
	n := t.lookup(p)
	if !n.touched && n.st == stOrig {
		n.gone = true // nothing was here: the create says so
	}
	n.touched = true
	n.st = stCreated
	n.clear()
}

func (t *tree) modify(p string) {
	n := t.lookup(p)
	n.touched = true
	switch n.st {
	case stOrig:
		n.modified = true
	case stAbsent: // the journal missed a create
		n.st = stCreated
		n.clear()
	}
}

func (t *tree) remove(p string) {
	n := t.lookup(p)
	n.touched = true
	n.st = stAbsent
	n.clear()
}

func (t *tree) rename(from, to string) {
	if from == to {
		return
	}
	if strings.HasPrefix(to, from+"/") || strings.HasPrefix(from, to+"/") {
		// Impossible on a POSIX file system (EINVAL, ENOTEMPTY); the
		// journal is inconsistent. Report both paths as changed.
		t.remove(from)
		t.create(to)
		return
	}
	src := t.lookup(from)
	src.touched = true
	if src.st == stAbsent { // the journal missed whatever was at from
		t.create(to)
		return
	}
	dst := t.lookup(to)
	// Leave an empty node at from: what its parent implies there is gone
	// unless nothing was there at the cursor either.
	left := &node{name: src.name, parent: src.parent, st: stAbsent, touched: true, gone: src.gone}
	src.parent.kids[src.name] = left
	t.nodes++
	// The moved subtree takes dst's place. Whatever dst held is replaced;
	// whether anything was at to at the cursor, only dst.gone can tell
	// (a dst no event named is assumed to have existed, so that its
	// replacement is never missed).
	src.name, src.parent, src.gone, src.touched = dst.name, dst.parent, dst.gone, true
	dst.parent.kids[dst.name] = src
}

// apply folds one event into the tree.
func (t *tree) apply(ev *semevent.Event) {
	p := clean(ev.Path)
	if p == "" {
		return
	}
	switch ev.Kind {
	case semevent.KindFileCreate, semevent.KindDirCreate:
		t.create(p)
	case semevent.KindFileWrite, semevent.KindFileTruncate, semevent.KindFileChmod, semevent.KindFileXattr:
		t.modify(p)
	case semevent.KindFileDelete, semevent.KindDirDelete:
		t.remove(p)
	case semevent.KindFileRename:
		if old := clean(ev.OldPath); old != "" {
			t.rename(old, p)
		} else {
			t.create(p) // a rename whose source is unknown: something appeared
		}
	}
}

func clean(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}

// filter decides which changes a glob keeps. A change is kept when its
// path (or a rename's old path) matches, and a change that decides what is
// below its path (Created, Deleted, Renamed) is also kept when the glob may
// match a path below it, since that change is what says what those paths
// hold now.
type filter struct {
	g      *glob.Glob
	prefix string
	n      int
}

func newFilter(g *glob.Glob) *filter {
	if g == nil {
		return nil
	}
	prefix, n := g.Prefix()
	return &filter{g: g, prefix: prefix, n: n}
}

func (f *filter) match(p string) bool { return f == nil || f.g.Match(p) }

// under reports whether the glob may match a path below dir: whether dir
// and the glob's literal prefix agree on the segments both have.
func (f *filter) under(dir string) bool {
	if f == nil || f.n == 0 {
		return true
	}
	if dp, ok := glob.PathPrefix(dir, f.n); ok {
		return dp == f.prefix // dir is at or below the prefix
	}
	return strings.HasPrefix(f.prefix, dir+"/") // dir is above the prefix
}

func (f *filter) keep(c *Change) bool {
	switch c.Op {
	case Renamed:
		return f.match(c.Path) || f.match(c.OldPath) || f.under(c.Path) || f.under(c.OldPath)
	case Deleted, Created:
		return f.match(c.Path) || f.under(c.Path)
	}
	return f.match(c.Path)
}

// changes walks the tree and lists each path whose state differs from what
// its parent implies.
func (t *tree) changes(f *filter) []Change {
	var out []Change
	var walk func(n *node, p string)
	walk = func(n *node, p string) {
		names := make([]string, 0, len(n.kids))
		for name, c := range n.kids {
			if c.touched {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			c := n.kids[name]
			cp := join(n, p, name)
			implied := ""
			exists := n.st == stOrig && !c.gone
			if n.st == stOrig {
				implied = join(n, n.orig, name)
			}
			var ch Change
			switch c.st {
			case stAbsent:
				if exists {
					ch = Change{Op: Deleted, Path: cp}
				}
			case stCreated:
				ch = Change{Op: Created, Path: cp}
			case stOrig:
				if n.st == stOrig && c.orig == implied {
					if c.modified {
						ch = Change{Op: Modified, Path: cp}
					}
				} else {
					ch = Change{Op: Renamed, Path: cp, OldPath: c.orig, Modified: c.modified}
				}
			}
			if ch.Op != 0 && f.keep(&ch) {
				out = append(out, ch)
			}
			walk(c, cp)
		}
	}
	walk(&t.root, "")
	return out
}
