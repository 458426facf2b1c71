package api

import "testing"

// TestEveryRouteDeclaresItsObjects checks that each native route says what it needs on
// the object its path names, or is listed as touching none.
func TestEveryRouteDeclaresItsObjects(t *testing.T) {
	for _, r := range (&API{}).routeTable() {
		if !ObjectRuleFor(r.method, r.path) {
			t.Errorf("%s %s declares no object rule", r.method, r.path)
		}
	}
}
