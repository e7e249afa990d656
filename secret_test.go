package passivedns

import (
	"bytes"
	"io"
	golog "log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/testkit"
)

// The ClickHouse password must not appear in logs, errors or the status: here the server
// refuses the login, and the error travels through every one of them.
func TestPasswordNeverShown(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	var logs bytes.Buffer
	golog.SetOutput(&logs)
	defer golog.SetOutput(io.Discard)

	dsn := "clickhouse://default:" + secret + "@" + testCH(t).TCPAddr + "/" + testCH(t).TestDB(t) + "?dial_timeout=2s"
	cfg, err := parse(caddy.NewTestController("dns", "passivedns "+dsn+" {\n flush 50ms\n sensor s\n}"))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	w := newWriter(cfg, newSink(cfg))
	w.shutdownTimeout = 500 * time.Millisecond
	if err := w.start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	w.enqueue(recordtest.Capture(t, "example.org."))
	testkit.WaitFor(t, "the failed login to be seen", 5*time.Second, func() bool { return !w.healthy.Load() })
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/status", nil))
	w.stop()

	status := rec.Body.String()
	if !strings.Contains(status, "last_error") {
		t.Fatalf("status shows no error: %s", status)
	}
	for what, text := range map[string]string{"logs": logs.String(), "status": status} {
		if strings.Contains(text, secret) {
			t.Errorf("the password is in the %s:\n%s", what, text)
		}
	}
	if !strings.Contains(logs.String(), "Cannot write to ClickHouse") {
		t.Errorf("the outage was not logged:\n%s", logs.String())
	}

	// Setup errors show the DSN with the password masked.
	_, err = parse(caddy.NewTestController("dns", "passivedns clickhouse://u:"+secret+"@h:9000/bad-db"))
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "u:xxxxx@") {
		t.Errorf("setup error %v", err)
	}
}
