// Package browser tests the analyst's page (internal/webui) in a real browser: Debian's
// chromium, headless, driven by chromedp, against the CoreDNS binary of cmd/coredns built
// once, recording answers of the demo zone (examples/db.example.org, served by a second
// CoreDNS with the file plugin) into a private ClickHouse (internal/chtest). The tests type
// into the page and click as an analyst would, and assert on what the page shows: rows,
// graph nodes, messages, downloaded files.
//
// Each state is saved as a PNG screenshot in $PASSIVEDNS_BROWSER_OUT, or else in a new
// folder under the system's temporary folder that is kept; the test log (-v) names it.
//
//	go test -count=1 -v ./test/browser/
//
// They need clickhouse-server and chromium (scripts/deps.sh installs both); without them
// they fail, they do not skip. The browser only ever loads loopback URLs.
package browser
