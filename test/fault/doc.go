// Package fault holds the fault tests of passivedns (issue 4): with a steady query load
// against a recording resolver, ClickHouse is killed, frozen, or the resolver itself is
// killed, reloaded, given a tiny spool filesystem or damaged spool files, or saturated
// without a spool; each test then checks, exactly, that every answer the clients received
// is in ClickHouse once, or is counted as dropped with its reason.
//
// The CoreDNS binary of cmd/coredns is built once (without -race) and runs as an
// authoritative server for example.org (the file plugin, with a wildcard *.load.example.org
// so that every query has its own name and every answer its own row) and as a resolver
// with passivedns, a spool, prometheus and the status endpoint (http), forwarding to it.
// ClickHouse is a private server of internal/chtest, shared by the tests, which run one
// after another because they kill, freeze and restart it.
//
// The tests, in the order of the issue: TestClickHouseKilled (1) and
// TestClickHouseKilledBetweenViews (1c: the kill held between an insert's raw part and its
// views' parts), TestClickHouseFrozen (2),
// TestCoreDNSKilled (3, plus spool files put back after their replay), TestReloadUnderLoad
// (4), TestSpoolFilesystemFull (5) and TestSpoolSizeLimit (5b: the spool's own MAXSIZE),
// TestCorruptSpool (6), TestMemoryBound (7). Each logs a FIGURES line. Together they take
// about four minutes; the 30 s outage of 1 and the 60 s saturation of 7 are most of it.
//
// Run them with (as root: one test mounts a tmpfs):
//
//	go test -race -count=1 -v ./test/fault/
//
// They need clickhouse-server (scripts/deps.sh); an external server
// (PASSIVEDNS_TEST_CLICKHOUSE) cannot be killed, so they fail with it.
package fault
