package store

import (
	"container/list"
	"context"
	"database/sql"
)

// stmtCache keeps prepared statements on the write connection, so that a write's
// statements are parsed once rather than on every call. Only the writer goroutine uses
// it, so it needs no lock.
//
// The write pool has one connection, which a transaction holds while it runs, so a
// statement first seen inside a transaction cannot be prepared on the pool there: it is
// prepared for that transaction alone and noted, and prepareNoted prepares it on the
// pool once the transaction has ended.
type stmtCache struct {
	db    *sql.DB
	max   int
	order *list.List // front = most recently used; values are *cachedStmt
	bySQL map[string]*list.Element
	noted []string
}

type cachedStmt struct {
	sql  string
	stmt *sql.Stmt
}

func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: max, order: list.New(), bySQL: map[string]*list.Element{}}
}

// get returns the prepared statement for query, or nil after noting the query for
// prepareNoted.
func (c *stmtCache) get(query string) *sql.Stmt {
	if e, ok := c.bySQL[query]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cachedStmt).stmt
	}
	if len(c.noted) < c.max {
		c.noted = append(c.noted, query)
	}
	return nil
}

// prepareNoted prepares the statements noted since the last call. It must run while
// no transaction holds the write connection.
func (c *stmtCache) prepareNoted(ctx context.Context) {
	for _, q := range c.noted {
		if _, ok := c.bySQL[q]; ok {
			continue
		}
		stmt, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue // the statement fails again, with its error, when it is used
		}
		c.bySQL[q] = c.order.PushFront(&cachedStmt{sql: q, stmt: stmt})
	}
	c.noted = c.noted[:0]
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*cachedStmt)
		delete(c.bySQL, old.sql)
		old.stmt.Close()
	}
}

func (c *stmtCache) close() {
	for e := c.order.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedStmt).stmt.Close()
	}
	c.order.Init()
	clear(c.bySQL)
}
