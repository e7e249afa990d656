package httpapi

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"
)

// These tests need no ClickHouse: what they check happens before any query (a
// ClickHouse that is not there answers the rest with 503).

func testServer(t *testing.T, keys ...string) (*Server, *httptest.Server) {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0"}
	for _, k := range keys {
		cfg.Keys = append(cfg.Keys, sha256.Sum256([]byte(k)))
	}
	db := history.New(history.Options{ClickHouse: &clickhouse.Options{Addr: []string{"127.0.0.1:1"}}, MaxConcurrent: MaxConcurrent, QueryTimeout: time.Second})
	a := New(cfg, db, clog.NewWithPlugin("passivedns"))
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return a, srv
}

func do(t *testing.T, method, url, key string, body io.Reader) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestKeyShare: with several keys, one key holds at most keyShare slots; another key
// still gets one.
func TestKeyShare(t *testing.T) {
	a, _ := testServer(t, "flood", "other")
	hold := make(chan struct{})
	var admitted sync.WaitGroup
	h := a.authorize(protoNative, a.bounded(protoNative, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admitted.Done()
		<-hold
	})))
	srv := httptest.NewServer(h)
	defer srv.Close()
	admitted.Add(keyShare)
	codes := make(chan int, MaxConcurrent)
	for range MaxConcurrent {
		go func() {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("X-API-Key", "flood")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	admitted.Wait() // keyShare requests of the flooding key are in
	refused := 0
	for range MaxConcurrent - keyShare {
		if c := <-codes; c == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused != MaxConcurrent-keyShare {
		t.Errorf("%d of the flooding key's %d requests refused, want %d", refused, MaxConcurrent, MaxConcurrent-keyShare)
	}
	admitted.Add(1)
	go func() {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-API-Key", "other")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			codes <- resp.StatusCode
		}
	}()
	got := make(chan struct{})
	go func() { admitted.Wait(); close(got) }()
	select {
	case <-got:
	case c := <-codes:
		t.Errorf("the other key got %d while the flooding key held its share", c)
	case <-time.After(5 * time.Second):
		t.Error("the other key was not admitted")
	}
	close(hold)
	for range keyShare + 1 {
		if c := <-codes; c != 200 {
			t.Errorf("admitted request: %d", c)
		}
	}
}

// TestSlowReaderFreesSlot: a handler that gave its slot back (its page is read) does
// not keep others out while it writes.
func TestSlowReaderFreesSlot(t *testing.T) {
	a, _ := testServer(t)
	hold := make(chan struct{})
	var writing sync.WaitGroup
	h := a.bounded(protoNative, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			releaseSlot(r)
			writing.Done()
			<-hold
			return
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	writing.Add(MaxConcurrent)
	for range MaxConcurrent {
		go func() {
			resp, err := http.Get(srv.URL + "/slow")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	writing.Wait()
	if c, _, body := do(t, "GET", srv.URL+"/fast", "", nil); c != 200 {
		t.Errorf("with %d slow readers: %d %s", MaxConcurrent, c, body)
	}
	close(hold) // before srv.Close, which waits for the handlers
}

func TestMethodNotAllowed(t *testing.T) {
	_, srv := testServer(t)
	for path, allow := range map[string]string{
		"/api/v1/name/example.net":                "GET, HEAD",
		"/api/v1/bulk":                            "POST",
		"/dnsdb/v2/lookup/rrset/name/example.net": "GET, HEAD",
	} {
		method := "DELETE"
		c, h, body := do(t, method, srv.URL+path, "", nil)
		var e APIError
		if c != http.StatusMethodNotAllowed || h.Get("Allow") != allow || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("%s %s: %d Allow %q %s, want 405 Allow %q with a JSON error", method, path, c, h.Get("Allow"), body, allow)
		}
	}
	if c, _, _ := do(t, "GET", srv.URL+"/no/such/thing", "", nil); c != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", c)
	}
}

// bulkBody is n short lines, then one of long bytes.
func bulkBody(n, long int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "n%d.example.net\n", i)
	}
	b.WriteString(strings.Repeat("a", long) + "\n")
	return b.String()
}

func TestBulkLineTooLong(t *testing.T) {
	_, srv := testServer(t)
	c, _, body := do(t, "POST", srv.URL+"/api/v1/bulk", "", strings.NewReader(bulkBody(3, 70000)))
	want := `{"error":"body: line 4 is longer than 65536 bytes","parameter":"body"}` + "\n"
	if c != 400 || body != want {
		t.Errorf("got %d %s, want 400 %s", c, body, want)
	}
}

// TestBulkExpectContinue: a client that waits for 100 Continue and sends an over-long
// line reads the 400, not a reset.
func TestBulkExpectContinue(t *testing.T) {
	_, srv := testServer(t)
	body := bulkBody(10000, 300000)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST /api/v1/bulk HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("before the body: %q %v", line, err)
	}
	br.ReadString('\n') // the blank line after 100 Continue
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("sending the body: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || err != nil || !strings.Contains(string(b), "line 10001 is longer than 65536 bytes") {
		t.Errorf("got %d %q %v", resp.StatusCode, b, err)
	}
}

// TestForgedCursor: a cursor with the right fingerprint but an address that is not one
// is refused, not taken as the start.
func TestForgedCursor(t *testing.T) {
	_, srv := testServer(t)
	ip, _ := param.ParseIP("ip", "10.0.0.0/8")
	id := param.QueryID(strconv.Itoa(int(history.TableByIP)), ip.Lo.String()+"-"+ip.Hi.String(), "", "", "", "false")
	forged := param.Cursor{Query: id, Key: []string{"garbage", "www.example.net.", "A"}}.Encode()
	c, _, body := do(t, "GET", srv.URL+"/api/v1/ip/10.0.0.0/8?cursor="+forged, "", nil)
	want := `{"error":"cursor: not a cursor returned by this server","parameter":"cursor"}` + "\n"
	if c != 400 || body != want {
		t.Errorf("forged ip cursor: %d %s, want 400 %s", c, body, want)
	}
	good := param.Cursor{Query: id, Key: []string{"::ffff:10.0.0.1", "www.example.net.", "A"}}.Encode()
	if c, _, body := do(t, "GET", srv.URL+"/api/v1/ip/10.0.0.0/8?cursor="+good, "", nil); c == 400 {
		t.Errorf("well-formed cursor: %d %s", c, body)
	}
}
