package registry_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/store/storetest"
)

// TestReplicasNumberVersionsWithoutGaps: clients creating versions of one model through
// three servers sharing a PostgreSQL database get 1..N, none twice, none skipped.
func TestReplicasNumberVersionsWithoutGaps(t *testing.T) {
	dbs := storetest.Replicas(t, 3)
	var svcs []*registry.Service
	for _, db := range dbs {
		svcs = append(svcs, newService(db))
	}
	mustModel(t, svcs[0], "m")
	const clients = 20
	nums := make([]int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			v, err := svcs[i%len(svcs)].CreateModelVersion(t.Context(), registry.CreateVersionInput{
				Name: "m", Source: "mlflow-artifacts:/0/run1/artifacts/model", RunID: "run1"})
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			nums[i], _ = strconv.Atoi(v.Version)
		})
	}
	wg.Wait()
	var want []int
	for i := range clients {
		want = append(want, i+1)
	}
	slices.Sort(nums)
	if !slices.Equal(nums, want) {
		t.Fatalf("versions %v, want %v", nums, want)
	}
}

// TestReplicasMoveAnAliasOneAtATime: an alias moved through several servers at once ends
// where one of the moves put it, and every server reads it there.
func TestReplicasMoveAnAliasOneAtATime(t *testing.T) {
	dbs := storetest.Replicas(t, 3)
	var svcs []*registry.Service
	for _, db := range dbs {
		svcs = append(svcs, newService(db))
	}
	mustModel(t, svcs[0], "m")
	const versions = 6
	for range versions {
		mustVersion(t, svcs[0], "m")
	}
	var wg sync.WaitGroup
	for i := range 3 * versions {
		wg.Go(func() {
			if err := svcs[i%len(svcs)].SetAlias(t.Context(), "m", "champion", fmt.Sprint(i%versions+1)); err != nil {
				t.Errorf("move %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var seen []string
	for _, s := range svcs {
		v, err := s.GetVersionByAlias(t.Context(), "m", "champion")
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, v.Version)
		if got := mustGetModel(t, s, "m").Aliases; len(got) != 1 {
			t.Errorf("aliases %v, want one", got)
		}
	}
	if seen[0] != seen[1] || seen[1] != seen[2] {
		t.Fatalf("the servers read the alias at %v", seen)
	}
}
