// Package chsink inserts batches into the responses table over its own connection and
// keeps them exactly once: batch ids, insert deduplication tokens where the server has them,
// and a check of what landed after an insert whose outcome is unknown.
package chsink
