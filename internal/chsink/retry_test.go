package chsink_test

import (
	"bytes"
	"fmt"
	"io"
	golog "log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/testkit"
)

// TestUncertainRetryByFlavor checks what the sink sends for a batch whose insert had an
// unknown outcome, per flavor, against a fake HTTP interface that keeps each insert and a
// native port where nothing listens (any query there fails). With deduplication tokens
// (modern) the retry is the first insert again, byte for byte and with the same token, and
// asks nothing first; without them (18.16) the sink must first ask what landed, which fails
// here.
func TestUncertainRetryByFlavor(t *testing.T) {
	for _, modern := range []bool{true, false} {
		t.Run(map[bool]string{true: "modern", false: "18.16"}[modern], func(t *testing.T) {
			var mu sync.Mutex
			var inserts []string // query string and body
			fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				inserts = append(inserts, r.URL.RawQuery+"\n"+string(body))
				mu.Unlock()
			}))
			defer fake.Close()
			ch, err := clickhouse.ParseDSN(fmt.Sprintf("clickhouse://127.0.0.1:%d/", testkit.FreePort(t)))
			if err != nil {
				t.Fatal(err)
			}
			ch.DialTimeout = time.Second
			s := newSink(t, chsink.Options{ClickHouse: ch, HTTP: fake.URL + "/", Log: testLog,
				Fixed: &schema.Schema{Flavor: schema.Flavor{Modern: modern}, DB: "retry"}})

			at := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
			b := recordtest.BatchOf(t,
				recordtest.CaptureOf(t, recordtest.Msg(t, "a.example.org.", dns.TypeA, 0, false, "a.example.org. 60 IN A 192.0.2.3"), at, "192.0.2.1", "udp"),
				recordtest.CaptureOf(t, recordtest.Msg(t, "b.example.org.", dns.TypeA, 0, false, "b.example.org. 60 IN A 192.0.2.4"), at, "192.0.2.1", "udp"))
			if err := s.Write(chtest.Ctx(t), b); err != nil {
				t.Fatalf("first write: %v", err)
			}
			b.Uncertain = true
			err = s.Write(chtest.Ctx(t), b)
			mu.Lock()
			defer mu.Unlock()
			if !modern {
				if err == nil || len(inserts) != 1 {
					t.Errorf("18.16: the retry gave %v after %d inserts; want the landed check to fail first, and no second insert", err, len(inserts))
				}
				return
			}
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if len(inserts) != 2 {
				t.Fatalf("%d inserts, want 2", len(inserts))
			}
			token := fmt.Sprintf("insert_deduplication_token=%d", b.ID)
			if inserts[1] != inserts[0] || !bytes.Contains([]byte(inserts[1]), []byte(token)) ||
				!bytes.Contains([]byte(inserts[1]), []byte("deduplicate_blocks_in_dependent_materialized_views=1")) {
				t.Errorf("the retry is not the first insert again with %s and the views' deduplication:\n first %.300q\n retry %.300q", token, inserts[0], inserts[1])
			}
		})
	}
}

// TestRetryLandedTwice: a retry under the same token after the server forgot the token
// (past its deduplication window) lands again. The sink cannot undo that, but it must say
// so, naming the batch; a retry the server deduplicated must not be reported. The
// server's side is played by 18.16 holding the batch once or twice (it has no tokens);
// the sink writes with the modern flavor, its inserts going to a fake HTTP interface.
func TestRetryLandedTwice(t *testing.T) {
	for _, twice := range []bool{true, false} {
		t.Run(map[bool]string{true: "twice", false: "once"}[twice], func(t *testing.T) {
			legacy, db := preparedSink(t)
			at := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
			msg := func(name string) record.Capture {
				return recordtest.CaptureOf(t, recordtest.Msg(t, name, dns.TypeA, 0, false, name+" 60 IN A 192.0.2.3"), at, "192.0.2.1", "udp")
			}
			// Two rows of the day's first name: the check compares counts of that name.
			b := recordtest.BatchOf(t, msg("a.example.org."), msg("a.example.org."), msg("b.example.org."), msg("c.example.org."))
			mustWrite(t, legacy, b)
			if twice {
				mustWrite(t, legacy, b) // 18.16 keeps no tokens: the same batch id again
			}

			fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
			defer fake.Close()
			opts := options(t, db)
			opts.HTTP = fake.URL + "/"
			opts.Fixed = &schema.Schema{Flavor: schema.Flavor{Modern: true}, DB: db}
			var unsure []string
			opts.Unsure = func(kind string, rows int) { unsure = append(unsure, fmt.Sprintf("%s %d", kind, rows)) }
			var logged bytes.Buffer
			golog.SetOutput(&logged)
			defer golog.SetOutput(io.Discard)
			s := newSink(t, opts)
			b.Uncertain = true
			if err := s.Write(chtest.Ctx(t), b); err != nil {
				t.Fatal(err)
			}
			warning := fmt.Sprintf("Batch %x landed twice", b.ID)
			if got := strings.Contains(logged.String(), warning); got != twice {
				t.Errorf("warning %q logged: %v, want %v; log:\n%s", warning, got, twice, logged.String())
			}
			if counts := "(4 rows of a day where 2 were sent)"; twice && !strings.Contains(logged.String(), counts) {
				t.Errorf("the warning does not say %s: %s", counts, logged.String())
			}
			var wantUnsure []string // the whole day's rows: its part landed again
			if twice {
				wantUnsure = []string{chsink.UnsureTwice + " 4"}
			}
			if fmt.Sprint(unsure) != fmt.Sprint(wantUnsure) {
				t.Errorf("reported unsure: %q, want %q", unsure, wantUnsure)
			}
		})
	}
}
