// Package spool keeps batches that ClickHouse could not take on disk, one append-only file
// per batch with framed, checksummed records, until the writer replays them. One directory is
// shared by every writer of a process that names it and locked against other processes.
package spool
