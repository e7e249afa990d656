package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/passivedns/passivedns/internal/corednstest"
	"github.com/passivedns/passivedns/internal/httpapi"
)

// tab is one browser tab and the test driving it.
type tab struct {
	t    *testing.T
	ctx  context.Context
	out  string // screenshots
	name string
}

func (b *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%v", err)
	}
}

// fail saves a screenshot of the page and ends the test with what the page says.
func (b *tab) fail(format string, args ...any) {
	b.t.Helper()
	b.shot("failed-" + strings.ReplaceAll(b.t.Name(), "/", "-"))
	b.t.Fatalf("%s: %s; page says: %q | %q", b.name, fmt.Sprintf(format, args...), b.text("#message"), b.text("#status"))
}

// waitJS waits until the script's value is truthy.
func (b *tab) waitJS(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		b.fail("waiting for %s: %v", what, err)
	}
}

// eval returns the value of a script.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluating %s: %v", expr, err)
	}
	return v
}

// text is an element's text, "" when absent; never fails (used in failure messages).
func (b *tab) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)))
	return strings.TrimSpace(s)
}

// strings evaluates a script returning an array of strings.
func (b *tab) strings(expr string) []string {
	b.t.Helper()
	return eval[[]string](b, expr)
}

func (b *tab) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.out, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

func (b *tab) open(url string) {
	b.t.Helper()
	if !isLoopback(url) {
		b.t.Fatalf("refusing to load %s: loopback URLs only", url)
	}
	b.run(chromedp.Navigate(url))
	b.waitJS("the page at "+url, fmt.Sprintf(`location.href === %q && document.readyState === 'complete'`, url))
}

// giveKey types a key into the page's key form, which must be showing.
func (b *tab) giveKey(key string) {
	b.t.Helper()
	b.waitJS("the key form", `!document.getElementById('keyform').hidden`)
	b.run(chromedp.SendKeys(chromedp.CSS("#apikey"), key), chromedp.Click(chromedp.CSS("#keyform button")))
}

// search types a query into the search box (the other fields as given) and submits it.
func (b *tab) search(q, from string) {
	b.t.Helper()
	eval[bool](b, `document.getElementById('q').value = ''; document.getElementById('from').value = ''; true`)
	b.run(chromedp.SendKeys(chromedp.CSS("#q"), q))
	if from != "" {
		b.run(chromedp.SendKeys(chromedp.CSS("#from"), from))
	}
	b.run(chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
}

// rows are the results table's rows as "rrname rrtype rdata" lines.
const rowsJS = `[...document.querySelectorAll('#results tbody tr')].map(tr =>
	['rrname','rrtype','rdata'].map(c => tr.querySelector('td[data-col='+c+']').textContent).join(' '))`

// waitRows waits for the results of the search for q, and returns them.
func (b *tab) waitRows(q string) []string {
	b.t.Helper()
	b.waitJS("results of "+q, fmt.Sprintf(`!document.getElementById('results-section').hidden &&
		document.getElementById('results-section').dataset.q === %q`, q))
	return b.strings(rowsJS)
}

func apiLines(rows []map[string]any) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s %s", r["rrname"], r["rrtype"], r["rdata"]))
	}
	return out
}

const nodesJS = `[...document.querySelectorAll('#graph g.node')].map(n => n.dataset.id).sort()`

// TestPage drives the page as an analyst: a key is asked for and a wrong one refused, a
// search shows the API's rows, sorting and a shared URL reproduce them, the timeline shows
// an address change and the as-of answer its CNAME chain, clicks grow the pivot graph,
// downloads hold the table, and a bad query and an unreachable ClickHouse say so.
func TestPage(t *testing.T) {
	d := startDemo(t)
	out := outDir(t)
	ctx := newBrowser(t)
	downloads := t.TempDir()
	b := &tab{t: t, ctx: ctx, out: out, name: "tab 1"}
	b.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
		return err
	}))

	t.Run("key", func(t *testing.T) {
		b.t = t
		b.open(d.base + "/?q=www.example.org")
		b.waitJS("the key form", `!document.getElementById('keyform').hidden`)
		if msg := b.text("#message"); !strings.Contains(msg, "This API needs a key") {
			t.Errorf("without a key the page says %q, want it to ask for one", msg)
		}
		b.shot("01-key-asked")
		b.giveKey("wrong-key-123")
		b.waitJS("the refusal", `document.getElementById('message').textContent.includes('refused')`)
		if msg := b.text("#message"); msg != "The API key was refused (HTTP 401): enter the right key." {
			t.Errorf("with a wrong key the page says %q", msg)
		}
		b.shot("02-wrong-key")
		b.giveKey(apiKey)
		b.waitRows("www.example.org")
		var href, stored string
		href = eval[string](b, `location.href`)
		stored = eval[string](b, `sessionStorage.getItem('passivedns.apiKey')`)
		if strings.Contains(href, apiKey) || stored != apiKey {
			t.Errorf("URL %s, session storage %q: the key belongs in session storage only", href, stored)
		}
	})

	t.Run("search", func(t *testing.T) {
		b.t = t
		got := b.waitRows("www.example.org")
		want := []string{"www.example.org. A 192.0.2.10", "www.example.org. AAAA 2001:db8::10"}
		if !slices.Equal(got, want) {
			t.Errorf("rows %q, want %q", got, want)
		}
		if api := apiLines(d.apiRows(t, "/api/v1/name/www.example.org")); !slices.Equal(got, api) {
			t.Errorf("rows %q, the API says %q", got, api)
		}
		b.waitJS("the pivot graph", `document.querySelector('#graph g.node.root.expanded')`)
		b.waitJS("the as-of answer", `document.querySelectorAll('#asof tbody tr').length > 0`)
		b.shot("03-search-www")
	})

	var shared string
	var sharedRows []string
	t.Run("wildcard, window and sort", func(t *testing.T) {
		b.t = t
		from := d.start.Add(-time.Minute).Format(time.RFC3339)
		b.search("*.example.org", from)
		got := b.waitRows("*.example.org")
		api := apiLines(d.apiRows(t, "/api/v1/name/*.example.org?from="+from))
		if !slices.Equal(got, api) || len(got) < 8 || !slices.Contains(got, "api.example.org. A 192.0.2.22") {
			t.Errorf("rows %q, the API says %q", got, api)
		}
		// Two clicks on the count header: the most seen first.
		b.run(chromedp.Click(chromedp.CSS(`#results th[data-col=count] button`)), chromedp.Click(chromedp.CSS(`#results th[data-col=count] button`)))
		counts := b.strings(`[...document.querySelectorAll('#results td[data-col=count]')].map(td => td.textContent.padStart(6, '0'))`)
		if !sort.IsSorted(sort.Reverse(sort.StringSlice(counts))) || counts[0] == counts[len(counts)-1] {
			t.Errorf("counts after sorting descending: %q", counts)
		}
		var aria string
		aria = eval[string](b, `document.querySelector('#results th[data-col=count]').getAttribute('aria-sort')`)
		if aria != "descending" {
			t.Errorf("aria-sort %q, want descending", aria)
		}
		b.run(chromedp.Click(chromedp.CSS(`#results th[data-col=count] button`))) // back to ascending
		shared = eval[string](b, `location.href`)
		for _, p := range []string{"q=*.example.org", "from=" + strings.ReplaceAll(from, ":", "%3A")} {
			if !strings.Contains(shared, p) {
				t.Errorf("URL %s lacks %s", shared, p)
			}
		}
		sharedRows = b.waitRows("*.example.org")
		b.shot("04-wildcard-sorted")
	})

	t.Run("shared URL", func(t *testing.T) {
		if shared == "" {
			t.Skip("no URL from the search before")
		}
		b2 := newTab(t, ctx, out, "tab 2") // new session storage: no key
		b2.open(shared)
		b2.giveKey(apiKey)
		if got := b2.waitRows("*.example.org"); !slices.Equal(got, apiLines(d.apiRows(t, "/api/v1/name/*.example.org?from="+d.start.Add(-time.Minute).Format(time.RFC3339)))) {
			t.Errorf("the shared URL shows %q", got)
		}
		var q, from string
		q = eval[string](b2, `document.getElementById('q').value`)
		from = eval[string](b2, `document.getElementById('from').value`)
		if q != "*.example.org" || from != d.start.Add(-time.Minute).Format(time.RFC3339) {
			t.Errorf("the shared URL fills q %q from %q", q, from)
		}
		_ = sharedRows
		b2.shot("05-shared-url")
	})

	t.Run("timeline and as-of", func(t *testing.T) {
		b.t = t
		b.open(d.base + "/?q=api.example.org")
		b.waitRows("api.example.org")
		b.waitJS("the as-of answer", `document.querySelectorAll('#asof tbody tr').length > 0`)
		bars := b.strings(`[...document.querySelectorAll('#timeline g.tl-row')].map(g => g.dataset.rdata).sort()`)
		if want := []string{"192.0.2.20", "192.0.2.21", "192.0.2.22"}; !slices.Equal(bars, want) {
			t.Errorf("timeline bars %q, want %q", bars, want)
		}
		// The moved address starts later than the old one ends: the bars do not overlap.
		var starts []float64
		starts = eval[[]float64](b, `['192.0.2.20','192.0.2.22'].map(a => { const r = document.querySelector('#timeline g.tl-row[data-rdata="'+a+'"] rect.tl-bar'); return [+r.getAttribute('x'), +r.getAttribute('x') + +r.getAttribute('width')]; }).flat()`)
		if len(starts) != 4 || starts[2] <= starts[0] {
			t.Errorf("bars of 192.0.2.20 and 192.0.2.22 at %v: the new one should start later", starts)
		}
		final := b.text(`#asof tbody tr td[data-col=final]`)
		if parts := strings.Split(final, ", "); !slices.Equal(sorted(parts), []string{"A 192.0.2.21", "A 192.0.2.22"}) {
			t.Errorf("as-of final records %q, want the addresses after the move", final)
		}
		b.shot("06-timeline-api")

		b.open(d.base + "/?q=docs.example.org")
		b.waitRows("docs.example.org")
		b.waitJS("the as-of answer", `document.querySelectorAll('#asof tbody tr').length > 0`)
		if chain := b.text(`#asof tbody tr td[data-col=chain]`); chain != "docs.example.org. → blog.example.org. → www.example.org." {
			t.Errorf("as-of chain %q", chain)
		}
		b.shot("07-asof-docs")
	})

	t.Run("pivot", func(t *testing.T) {
		b.t = t
		b.open(d.base + "/?q=www.example.org")
		b.waitJS("the pivot graph", `document.querySelector('#graph g.node.root.expanded')`)
		before := b.strings(nodesJS)
		want := []string{"ip:192.0.2.10", "ip:2001:db8::10", "name:blog.example.org.", "name:docs.example.org.", "name:example.org.", "name:www.example.org."}
		if !slices.Equal(before, want) {
			t.Fatalf("graph nodes %q, want %q", before, want)
		}
		// A click on example.org. adds its MX and NS targets.
		b.run(chromedp.Click(chromedp.CSS(`#graph g.node[data-id="name:example.org."]`)))
		b.waitJS("example.org. expanded", `document.querySelector('#graph g.node.expanded[data-id="name:example.org."]')`)
		added := minus(b.strings(nodesJS), before)
		if want := []string{"name:mail.example.org.", "name:mx.example.net.", "name:ns1.example.org.", "name:ns2.example.net."}; !slices.Equal(added, want) {
			t.Errorf("expanding example.org. added %q, want %q", added, want)
		}
		// Enter on the focused mail.example.org. adds its addresses.
		before = b.strings(nodesJS)
		b.run(chromedp.Focus(chromedp.CSS(`#graph g.node[data-id="name:mail.example.org."]`)), chromedp.KeyEvent(kb.Enter))
		b.waitJS("mail.example.org. expanded", `document.querySelector('#graph g.node.expanded[data-id="name:mail.example.org."]')`)
		added = minus(b.strings(nodesJS), before)
		if want := []string{"ip:192.0.2.25", "ip:2001:db8::25"}; !slices.Equal(added, want) {
			t.Errorf("expanding mail.example.org. added %q, want %q", added, want)
		}
		b.shot("08-pivot-expanded")
	})

	t.Run("pivot two hops", func(t *testing.T) {
		b.t = t
		b.open(d.base + "/?q=www.example.org")
		b.waitJS("the pivot graph", `document.querySelector('#graph g.node.root.expanded')`)
		before := b.strings(nodesJS)
		// Two hops a click: example.org.'s MX and NS targets, and the addresses of those.
		b.run(chromedp.SetValue(chromedp.CSS("#hops"), "2"),
			chromedp.Click(chromedp.CSS(`#graph g.node[data-id="name:example.org."]`)))
		b.waitJS("example.org. expanded", `document.querySelector('#graph g.node.expanded[data-id="name:example.org."]')`)
		after := b.strings(nodesJS)
		want := []string{"ip:192.0.2.25", "ip:2001:db8::25", "name:mail.example.org.", "name:mx.example.net.", "name:ns1.example.org.", "name:ns2.example.net."}
		if added := minus(after, before); !slices.Equal(added, want) {
			t.Errorf("expanding example.org. two hops added %q, want %q", added, want)
		}
		// Every node of the API's two-hop pivot is drawn.
		body, _ := d.apiBody(t, "/api/v1/pivot/example.org?depth=2&via=cname,ns,mx")
		var pv struct {
			Nodes []struct {
				ID    string `json:"id"`
				Depth int    `json:"depth"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(body), &pv); err != nil {
			t.Fatal(err)
		}
		hop2 := 0
		for _, n := range pv.Nodes {
			if !slices.Contains(after, n.ID) {
				t.Errorf("the API's node %s is not in the graph", n.ID)
			}
			if n.Depth == 2 {
				hop2++
			}
		}
		if hop2 == 0 {
			t.Errorf("the API's two-hop pivot has no node two hops away: %s", body)
		}
		b.shot("08b-pivot-two-hops")
		b.run(chromedp.SetValue(chromedp.CSS("#hops"), "1"))
	})

	t.Run("address", func(t *testing.T) {
		b.t = t
		b.open(d.base + "/?q=192.0.2.10")
		got := b.waitRows("192.0.2.10")
		if want := apiLines(d.apiRows(t, "/api/v1/ip/192.0.2.10")); !slices.Equal(got, want) || len(got) != 2 {
			t.Errorf("rows %q, the API says %q", got, want)
		}
		// The names whose CNAME chains end at www.example.org. are in its row.
		aliases := b.strings(`[...document.querySelectorAll('#results tbody tr')].map(tr => tr.querySelector('td[data-col=rrname]').textContent + ': ' + tr.querySelector('td[data-col=aliases]').textContent)`)
		if !slices.Contains(aliases, "www.example.org.: blog.example.org. docs.example.org.") && !slices.Contains(aliases, "www.example.org.: docs.example.org. blog.example.org.") {
			t.Errorf("aliases column %q", aliases)
		}
		b.waitJS("the graph of the address", `document.querySelector('#graph g.node.root.expanded[data-id="ip:192.0.2.10"]')`)
		want := []string{"ip:192.0.2.10", "name:blog.example.org.", "name:docs.example.org.", "name:example.org.", "name:www.example.org."}
		if got := b.strings(nodesJS); !slices.Equal(got, want) {
			t.Errorf("graph of 192.0.2.10: %q, want %q", got, want)
		}
		b.shot("09-address")
	})

	t.Run("CSV download", func(t *testing.T) {
		b.t = t
		b.open(d.base + "/?q=www.example.org")
		b.waitRows("www.example.org")
		b.waitJS("the pivot graph", `document.querySelector('#graph g.node.root.expanded')`)
		b.run(chromedp.Click(chromedp.CSS(`button[data-download=results][data-format=csv]`)),
			chromedp.Click(chromedp.CSS(`button[data-download=pivot][data-format=csv]`)))
		var want []string
		want = append(want, "rrname,rrtype,rdata,time_first,time_last,count")
		for _, r := range d.apiRows(t, "/api/v1/name/www.example.org") {
			want = append(want, fmt.Sprintf("%s,%s,%s,%s,%s,%v", r["rrname"], r["rrtype"], r["rdata"], r["time_first"], r["time_last"], r["count"]))
		}
		if got := readDownload(t, filepath.Join(downloads, "passivedns-results-name-www.example.org.csv")); !slices.Equal(got, want) {
			t.Errorf("results CSV:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The API's own CSV of the search, saved by the page, and fetched here: the same
		// bytes as the page's CSV of the table (in the API's order, as the table is unsorted).
		b.run(chromedp.Click(chromedp.CSS(`#export-csv`)))
		server, hdr := d.apiBody(t, "/api/v1/name/www.example.org?format=csv&limit=10000")
		saved := readDownload(t, filepath.Join(downloads, "passivedns-name-www.example.org.csv"))
		page := readDownload(t, filepath.Join(downloads, "passivedns-results-name-www.example.org.csv"))
		if hdr.Get("Content-Type") != "text/csv; charset=utf-8" || server != strings.Join(want, "\r\n")+"\r\n" {
			t.Errorf("format=csv (%s):\n%q\nwant the lines\n%q", hdr.Get("Content-Type"), server, want)
		}
		if !slices.Equal(saved, page) || strings.Join(saved, "\r\n")+"\r\n" != server {
			t.Errorf("the API's CSV saved by the page:\n%q\nthe page's own:\n%q\nfetched:\n%q", saved, page, server)
		}
		pivot := readDownload(t, filepath.Join(downloads, "passivedns-pivot-name-www.example.org.csv"))
		if len(pivot) == 0 || pivot[0] != "from,rrtype,to,time_first,time_last,count" {
			t.Fatalf("pivot CSV: %q", pivot)
		}
		var edges []string
		for _, l := range pivot[1:] {
			f := strings.Split(l, ",")
			edges = append(edges, strings.Join(f[:3], " "))
		}
		want = []string{"blog.example.org. CNAME www.example.org.", "docs.example.org. CNAME blog.example.org.",
			"example.org. A 192.0.2.10", "www.example.org. A 192.0.2.10", "www.example.org. AAAA 2001:db8::10"}
		if !slices.Equal(edges, want) {
			t.Errorf("pivot CSV edges:\n%s\nwant:\n%s", strings.Join(edges, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("CSV cells as the API writes them", func(t *testing.T) {
		b.t = t
		cells := []string{"", "www.example.org.", "=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "a=b", `"v=spf1 mx -all"`,
			"a,b", "a\nb", "a\r\nb", " lead", "\u00a0nbsp", `\.`, "\u0085x", "\u2003x", "\ufeffx", "x\ry", "ünïcode", `b\195\188cher.example.`}
		js, _ := json.Marshal(cells)
		got := b.strings(fmt.Sprintf(`%s.map(c => window.passivednsCSV.cell(c) + "\r\n")`, js))
		for i, c := range cells {
			var buf bytes.Buffer
			w := httpapi.NewCSV(&buf)
			w.Write([]string{c})
			w.Flush()
			if i >= len(got) || got[i] != buf.String() {
				t.Errorf("cell %q: the page writes %q, the API %q", c, got[min(i, len(got)-1)], buf.String())
			}
		}
	})

	t.Run("rdata mode", func(t *testing.T) {
		b.t = t
		eval[bool](b, `document.getElementById('mode').value = 'rdata'; true`)
		b.search("www.example.org", "")
		got := b.waitRows("www.example.org")
		if want := apiLines(d.apiRows(t, "/api/v1/rdata/www.example.org")); !slices.Equal(got, want) || !slices.Equal(got, []string{"blog.example.org. CNAME www.example.org."}) {
			t.Errorf("rows %q, the API says %q", got, want)
		}
		if href := eval[string](b, `location.href`); !strings.HasSuffix(href, "/?q=www.example.org&mode=rdata") {
			t.Errorf("URL %s: want the mode in it", href)
		}
		eval[bool](b, `document.getElementById('mode').value = 'auto'; true`)
	})

	t.Run("negative", func(t *testing.T) {
		b.t = t
		b.search("neg:*.example.org", "")
		b.waitJS("negative answers", `document.getElementById('results-title').textContent === 'Negative answers' &&
			!document.getElementById('results-section').hidden`)
		got := b.strings(`[...document.querySelectorAll('#results tbody tr')].map(tr =>
			['qname','qtype','rcode'].map(c => tr.querySelector('td[data-col='+c+']').textContent).join(' '))`)
		var want []string
		for _, r := range d.apiRows(t, "/api/v1/negative/*.example.org") {
			want = append(want, fmt.Sprintf("%s %s %s", r["qname"], r["qtype"], r["rcode"]))
		}
		if !slices.Equal(got, want) || !slices.Contains(got, "nothing-here.example.org. A NXDOMAIN") || len(got) != 2 {
			t.Errorf("negative rows %q, the API says %q", got, want)
		}
		b.shot("10-negative")
	})

	t.Run("bad query", func(t *testing.T) {
		b.t = t
		b.search("ip:300.1.2.3", "")
		b.waitJS("the error", `!document.getElementById('message').hidden`)
		msg := b.text("#message")
		if !strings.HasPrefix(msg, `Bad query (parameter "ip"): `) {
			t.Errorf("a bad address shows %q", msg)
		}
		b.shot("11-bad-query")
	})

	t.Run("ClickHouse down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().String() // nothing listens here once closed
		ln.Close()
		down := coredns.Start(t, "resolver-down", t.TempDir(), func(p corednstest.Ports) string {
			return fmt.Sprintf(".:%d {\n    bind 127.0.0.1\n    passivedns clickhouse://%s/down?dial_timeout=200ms {\n        http 127.0.0.1:%d\n    }\n    whoami\n}\n", p.DNS, closed, p.HTTP)
		})
		b3 := newTab(t, ctx, out, "tab 3")
		b3.open(fmt.Sprintf("http://127.0.0.1:%d/?q=www.example.org", down.Ports.HTTP))
		b3.waitJS("the error", `!document.getElementById('message').hidden`)
		if msg := b3.text("#message"); !strings.Contains(msg, "ClickHouse") || !strings.Contains(msg, "503") {
			t.Errorf("with ClickHouse down the page says %q", msg)
		}
		b3.shot("12-clickhouse-down")
	})
	t.Logf("screenshots in %s", out)
}

// newTab opens a tab in the browser of ctx, closed at the end of the test. The first call
// on a tab's context opens it and binds its life to that call's context: no timeout there.
func newTab(t *testing.T, ctx context.Context, out, name string) *tab {
	t.Helper()
	tctx, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tctx); err != nil {
		t.Fatalf("opening %s: %v", name, err)
	}
	return &tab{t: t, ctx: tctx, out: out, name: name}
}

func readDownload(t *testing.T, path string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			t.Fatalf("%s not downloaded within 10s (folder holds %v)", filepath.Base(path), entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
