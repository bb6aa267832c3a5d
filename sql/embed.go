// Package sql embeds AYB's SQL: the system migrations (tern format) that the
// binary applies at start.
package sql

import "embed"

// Migrations holds sql/migrations/NNN_verb_object.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS
