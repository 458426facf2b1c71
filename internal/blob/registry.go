package blob

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// A Driver opens a Store from a parsed URI of the scheme it was registered under.
type Driver func(ctx context.Context, uri *url.URL) (Store, error)

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
)

// Register makes a driver available to Open under scheme, as database/sql drivers do.
// It panics if scheme is empty or already registered: both are programming errors.
func Register(scheme string, d Driver) {
	scheme = strings.ToLower(scheme)
	driversMu.Lock()
	defer driversMu.Unlock()
	if scheme == "" || d == nil {
		panic("blob: Register needs a scheme and a driver")
	}
	if _, dup := drivers[scheme]; dup {
		panic("blob: Register called twice for scheme " + scheme)
	}
	drivers[scheme] = d
}

// Schemes returns the registered URI schemes, sorted.
func Schemes() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := make([]string, 0, len(drivers))
	for name := range drivers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Open opens the store that uri names. The driver is chosen by the URI's scheme
// ("file:///var/lib/mlship/artifacts"); a plain path, with no scheme, is a local directory.
func Open(ctx context.Context, uri string) (Store, error) {
	u, err := url.Parse(uri)
	if err != nil || len(u.Scheme) < 2 { // one letter is a Windows drive, not a scheme
		return NewLocal(uri)
	}
	driversMu.RLock()
	d, ok := drivers[strings.ToLower(u.Scheme)]
	driversMu.RUnlock()
	if !ok {
		return nil, errorf(ErrUnsupportedScheme, "Unsupported storage URI scheme %q (supported: %s)",
			u.Scheme, strings.Join(Schemes(), ", "))
	}
	return d(ctx, u)
}
