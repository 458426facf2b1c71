package gate

import (
	"cmp"
	"slices"

	"github.com/mlship/mlship/internal/fault"
)

// groups holds one accumulator per slice value, numbered in order of first
// appearance.
type groups[T any] struct {
	ids   map[string]int32
	names []string
	items []T
	fresh func() T
}

func newGroups[T any](fresh func() T) groups[T] {
	return groups[T]{ids: map[string]int32{}, fresh: fresh}
}

// assign numbers each row's slice value, creating accumulators for new
// values; on error nothing is created. It returns nil for nil values.
func (g *groups[T]) assign(values []string) ([]int32, error) {
	if values == nil {
		return nil, nil
	}
	ids := make([]int32, len(values))
	before := len(g.names)
	for i, v := range values {
		id, ok := g.ids[v]
		if !ok {
			if len(g.names) == MaxSlices {
				g.rollback(before)
				return nil, fault.Invalidf("the slice column has more than %d distinct values", MaxSlices)
			}
			id = g.add(v)
		}
		ids[i] = id
	}
	return ids, nil
}

func (g *groups[T]) add(name string) int32 {
	id := int32(len(g.names))
	g.ids[name] = id
	g.names = append(g.names, name)
	g.items = append(g.items, g.fresh())
	return id
}

func (g *groups[T]) rollback(n int) {
	for _, name := range g.names[n:] {
		delete(g.ids, name)
	}
	g.names, g.items = g.names[:n], g.items[:n]
}

// sorted returns the ids in order of their names, so results do not depend
// on the order rows arrived in.
func (g *groups[T]) sorted() []int32 {
	ids := make([]int32, len(g.names))
	for i := range ids {
		ids[i] = int32(i)
	}
	slices.SortFunc(ids, func(a, b int32) int { return cmp.Compare(g.names[a], g.names[b]) })
	return ids
}
