package app

import (
	_ "embed"

	"github.com/aybhq/ayb/internal/db"
)

//go:embed queries.sql
var queriesSQL string

// queries maps each "-- name: x" section of queries.sql to its SQL.
var queries = db.NamedQueries(queriesSQL)

func query(name string) string {
	q, ok := queries[name]
	if !ok {
		panic("app: no query " + name)
	}
	return q
}
