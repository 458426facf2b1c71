package auth

import (
	"math"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/mlship/mlship/internal/fault"
)

// Failed sign-ins are limited per client address and per user name: a burst of
// failedBurst, then one every failedEvery. Past it every attempt is refused, right
// password or not, until the window passes; a guessing attack gets a few hundred tries a
// day instead of thousands a second.
const (
	failedBurst = 10
	failedEvery = 6 * time.Second
)

type limiter struct {
	now  func() time.Time
	keys *lru.Cache[string, *rate.Limiter]
}

func newLimiter(now func() time.Time) *limiter {
	c, _ := lru.New[string, *rate.Limiter](16384)
	return &limiter{now: now, keys: c}
}

func (l *limiter) get(key string) *rate.Limiter {
	if lim, ok := l.keys.Get(key); ok {
		return lim
	}
	lim := rate.NewLimiter(rate.Every(failedEvery), failedBurst)
	l.keys.Add(key, lim)
	return lim
}

func limitKeys(client, name string) []string {
	keys := []string{"c:" + client}
	if name != "" {
		keys = append(keys, "u:"+name)
	}
	return keys
}

// check refuses when the client or the name has no failures left.
func (l *limiter) check(client, name string) error {
	now := l.now()
	for _, k := range limitKeys(client, name) {
		if lim, ok := l.keys.Get(k); ok && lim.TokensAt(now) < 1 {
			wait := math.Ceil((1 - lim.TokensAt(now)) * failedEvery.Seconds())
			return fault.New(fault.Exhausted, "too many failed sign-ins; retry in %.0f s", wait)
		}
	}
	return nil
}

// fail counts a failed attempt.
func (l *limiter) fail(client, name string) {
	now := l.now()
	for _, k := range limitKeys(client, name) {
		l.get(k).AllowN(now, 1)
	}
}
