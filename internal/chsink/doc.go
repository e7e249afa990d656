// Package chsink inserts batches into the responses table, as Native blocks over the HTTP
// interface when one is configured (internal/nativeblock), else through clickhouse-go, and
// keeps them exactly once: batch ids, and after an insert whose outcome is unknown either the
// whole batch again under the same insert deduplication token (servers from 22.8, where every
// table, views' included, drops what it has) or a check of what landed in the raw log (older
// servers, which have no tokens).
package chsink
