package cas

import "time"

// SetClock replaces the clock that the store compares ModTimes with, for tests.
func SetClock(s *Store, now func() time.Time) { s.now = now }
