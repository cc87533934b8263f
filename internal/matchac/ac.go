// Package matchac finds many literal patterns in a text at once with an
// Aho-Corasick automaton compiled to a dense DFA over byte classes. Stepping
// the automaton does not allocate.
package matchac

// Automaton is immutable and safe for concurrent use.
type Automaton struct {
	class  [256]uint16
	nclass int
	delta  []int32   // state*nclass + class -> state
	out    [][]int32 // pattern ids ending at each state, fail links included
}

// Size returns upper bounds of the states and byte classes the automaton
// for pats would have; its transition table holds states×classes int32s.
func Size(pats []string) (states, classes int) {
	var used [256]bool
	states = 1
	classes = 1
	for _, p := range pats {
		states += len(p)
		for i := 0; i < len(p); i++ {
			if !used[p[i]] {
				used[p[i]] = true
				classes++
			}
		}
	}
	return states, classes
}

// New builds the automaton for pats; pattern i has id i. Empty patterns are
// ignored.
func New(pats []string) *Automaton {
	a := &Automaton{}
	// Byte classes: every byte used by a pattern gets its own class; all
	// other bytes share class 0.
	for _, p := range pats {
		for i := 0; i < len(p); i++ {
			if a.class[p[i]] == 0 {
				a.nclass++
				a.class[p[i]] = uint16(a.nclass)
			}
		}
	}
	a.nclass++
	// Trie.
	type node struct {
		next map[uint16]int32
		fail int32
		out  []int32
	}
	nodes := []node{{next: map[uint16]int32{}}}
	for id, p := range pats {
		if p == "" {
			continue
		}
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := a.class[p[i]]
			n, ok := nodes[s].next[c]
			if !ok {
				n = int32(len(nodes))
				nodes = append(nodes, node{next: map[uint16]int32{}})
				nodes[s].next[c] = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, int32(id))
	}
	// BFS for fail links and the dense transition table.
	a.delta = make([]int32, len(nodes)*a.nclass)
	a.out = make([][]int32, len(nodes))
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < a.nclass; c++ {
		if n, ok := nodes[0].next[uint16(c)]; ok {
			a.delta[c] = n
			queue = append(queue, n)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := nodes[s].fail
		a.out[s] = append(append([]int32(nil), nodes[s].out...), a.out[f]...)
		for c := 0; c < a.nclass; c++ {
			if n, ok := nodes[s].next[uint16(c)]; ok {
				nodes[n].fail = a.delta[int(f)*a.nclass+c]
				a.delta[int(s)*a.nclass+c] = n
				queue = append(queue, n)
			} else {
				a.delta[int(s)*a.nclass+c] = a.delta[int(f)*a.nclass+c]
			}
		}
	}
	return a
}

// States returns the number of states.
func (a *Automaton) States() int { return len(a.out) }

// Step returns the state after reading c in state s; the start state is 0.
func (a *Automaton) Step(s int32, c byte) int32 {
	return a.delta[int(s)*a.nclass+int(a.class[c])]
}

// Matches returns the ids of the patterns that end at state s.
func (a *Automaton) Matches(s int32) []int32 { return a.out[s] }
