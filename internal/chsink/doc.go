// Package chsink inserts batches into the responses table, as Native blocks over the HTTP
// interface when one is configured (internal/nativeblock), else through clickhouse-go, and
// keeps them exactly once: batch ids, insert deduplication tokens where the server has them,
// and a check of what landed after an insert whose outcome is unknown.
package chsink
