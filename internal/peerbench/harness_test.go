package peerbench

import (
	"fmt"
	"testing"
)

// TestPropagationDelivers runs every propagation contender with a few
// thousand events and checks that every subscriber gets every event.
func TestPropagationDelivers(t *testing.T) {
	for _, sh := range propShapes {
		for _, c := range propContenders {
			t.Run(fmt.Sprintf("%dx%d/%s", sh.pubs, sh.subs, c.name), func(t *testing.T) {
				const per = 3000 // not a multiple of windowStep
				r := c.make(t, sh.pubs, sh.subs, int64(per*sh.pubs))
				defer r.close()
				if err := r.run(per); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
