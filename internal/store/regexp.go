package store

import (
	sqldriver "database/sql/driver"
	"fmt"
	"regexp"
	"sync"

	"modernc.org/sqlite"
)

// SQLite has a REGEXP operator but no function behind it: "x REGEXP p" calls regexp(p, x),
// which the application provides. mlship's is Go's regexp (RE2: linear time in the value
// whatever the pattern), unanchored like MLflow's, so searches can use MLflow's RLIKE.
// PostgreSQL has ~ instead.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("regexp", 2, sqliteRegexp)
}

// maxRegexpBytes bounds a pattern the function compiles; the search grammar sets a
// tighter limit, in characters, before a pattern gets here.
const maxRegexpBytes = 4096

func sqliteRegexp(_ *sqlite.FunctionContext, args []sqldriver.Value) (sqldriver.Value, error) {
	pattern, ok := text(args[0])
	if !ok {
		return nil, nil
	}
	value, ok := text(args[1])
	if !ok {
		return nil, nil
	}
	re, err := regexps.get(pattern)
	if err != nil {
		return nil, err
	}
	if re.MatchString(value) {
		return int64(1), nil
	}
	return int64(0), nil
}

func text(v sqldriver.Value) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return fmt.Sprint(v), true
}

// regexpCache keeps the patterns compiled lately: a search calls regexp once a row
// with the same pattern.
type regexpCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

var regexps = regexpCache{m: map[string]*regexp.Regexp{}}

const regexpCacheSize = 64

func (c *regexpCache) get(pattern string) (*regexp.Regexp, error) {
	if len(pattern) > maxRegexpBytes {
		return nil, fmt.Errorf("regexp: the pattern is %d bytes long; at most %d are allowed", len(pattern), maxRegexpBytes)
	}
	c.mu.Lock()
	re, ok := c.m[pattern]
	c.mu.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= regexpCacheSize {
		clear(c.m)
	}
	c.m[pattern] = re
	c.mu.Unlock()
	return re, nil
}
