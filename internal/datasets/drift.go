package datasets

import (
	"context"
	"errors"

	"github.com/mlship/mlship/internal/dataset"
	"github.com/mlship/mlship/internal/drift"
	"github.com/mlship/mlship/internal/fault"
)

// Row limits of the exact comparison, both versions together. Up to ExactRows, Compare
// reads the data back and compares it exactly; above, it compares the stored profiles,
// which is exact where the sketches are (small columns) and within a few thousandths
// of the distances elsewhere, for a fraction of the time. Asked for, the exact
// comparison runs up to MaxExactRows.
const (
	ExactRows    = 200_000
	MaxExactRows = 4_000_000
)

// Compare reports the drift from one dataset version to another: exactly, on the data,
// when they are small or exact is asked for, else from their stored profiles.
func (s *Service) Compare(ctx context.Context, ref, cur *Version, exact bool, opts *drift.Options) (*drift.Report, error) {
	rows := ref.Rows + cur.Rows
	if exact && rows > MaxExactRows {
		return nil, fault.Invalidf("the versions have %d rows together; an exact comparison reads at most %d into memory: compare their profiles instead", rows, MaxExactRows)
	}
	if exact || rows <= ExactRows {
		rt, err := s.table(ctx, ref)
		if err != nil {
			return nil, err
		}
		ct, err := s.table(ctx, cur)
		if err != nil {
			return nil, err
		}
		return wrapDrift(drift.Compare(ctx, rt, ct, opts))
	}
	// Two profiles not in memory are read side by side.
	var cp *dataset.Profile
	var cerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		cp, cerr = s.Profile(ctx, cur)
	}()
	rp, err := s.Profile(ctx, ref)
	<-done
	if err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return wrapDrift(drift.CompareProfiles(ctx, rp, cp, opts))
}

// CompareProfile reports the drift from a dataset version to a profile of other data,
// such as a window of a deployment's traffic.
func (s *Service) CompareProfile(ctx context.Context, ref *Version, cur *dataset.Profile, opts *drift.Options) (*drift.Report, error) {
	rp, err := s.Profile(ctx, ref)
	if err != nil {
		return nil, err
	}
	return wrapDrift(drift.CompareProfiles(ctx, rp, cur, opts))
}

func (s *Service) table(ctx context.Context, v *Version) (*dataset.Table, error) {
	rc, err := s.Open(ctx, v)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, err := dataset.Open(rc, v.Format, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return dataset.ReadTable(ctx, r, int(v.Rows))
}

// wrapDrift makes a refused comparison (bad options, no common columns) the client's
// mistake.
func wrapDrift(r *drift.Report, err error) (*drift.Report, error) {
	for _, e := range []error{drift.ErrUnknownMethod, drift.ErrMethodKind, drift.ErrBadOptions, drift.ErrUnknownColumn} {
		if errors.Is(err, e) {
			return nil, fault.Wrap(fault.Invalid, err, "cannot compare: %v", err)
		}
	}
	return r, err
}
