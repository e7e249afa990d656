// Package e2e holds the end-to-end tests of passivedns: the CoreDNS binary of cmd/coredns,
// built once, runs as an authoritative server (the file plugin) and as a caching resolver
// that records into a private ClickHouse (internal/chtest). Real DNS queries go to the
// resolver over UDP and TCP, and the tests check the rows that arrive in ClickHouse.
//
// Run them with:
//
//	go test -race -count=1 ./test/e2e/
//
// They need clickhouse-server (scripts/deps.sh) or PASSIVEDNS_TEST_CLICKHOUSE; without
// either they fail, they do not skip.
package e2e
