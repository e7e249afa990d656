// Package history is the read side: it builds the history queries (every value bound, never
// pasted), runs them on a connection pool of its own with time limits, and answers as-of,
// alias and pivot questions in rounds of queries, returning plain structs.
package history
