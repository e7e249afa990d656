package schema_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/schema"
)

// TestUpgradeClaim: Ensure upgrades only while it holds the database's upgrade claim. A
// claim another process holds makes it wait until that claim is given back; a claim older
// than any upgrade (its process died) is dropped; a claim of the same claimant is its own
// from an attempt whose answer was lost; Ensure gives its own claim back.
func TestUpgradeClaim(t *testing.T) {
	tests := []struct {
		name      string
		claimant  string        // of the Ensure under test; the claim there is 0123456789abcdef's
		staleAge  time.Duration // claims older than this are stale
		release   bool          // the other process gives its claim back after a while
		wantWait  bool          // Ensure is still waiting after that while
		wantError bool          // Ensure gives up at its deadline
	}{
		{name: "held", staleAge: time.Hour, wantWait: true, wantError: true},
		{name: "given back", staleAge: time.Hour, release: true, wantWait: true},
		{name: "stale", staleAge: time.Second},
		{name: "its own", claimant: "0123456789abcdef", staleAge: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := legacyServer.Get(t)
			conn, s := claimConn(t, ch, ch.TestDB(t))
			s.Claimant = tt.claimant
			ctx := context.Background()
			for _, q := range []string{s.CreateDatabase(), s.CreateVersionTable(), s.ClaimUpgrade("0123456789abcdef")} {
				if err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			defer schema.SetStaleClaim(tt.staleAge)()
			time.Sleep(2 * time.Second) // the claim's age, in the server's whole seconds

			ensureCtx, cancel := context.WithTimeout(ctx, 6*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- schema.Ensure(ensureCtx, conn, s, true, clog.NewWithPlugin("passivedns")) }()
			var err error
			waited := false
			select {
			case err = <-done:
			case <-time.After(2 * time.Second):
				waited = true
				if n := version(t, conn, s); n != 0 {
					t.Errorf("schema version %d while another process holds the claim, want 0", n)
				}
				if tt.release {
					if err := conn.Exec(ctx, s.ReleaseUpgrade()); err != nil {
						t.Fatal(err)
					}
				}
				err = <-done
			}
			if waited != tt.wantWait {
				t.Errorf("Ensure waited: %v, want %v", waited, tt.wantWait)
			}
			if (err != nil) != tt.wantError {
				t.Fatalf("Ensure: %v, want an error: %v", err, tt.wantError)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "waiting for another passivedns") {
					t.Errorf("Ensure: %v, want it to say it was waiting", err)
				}
				return
			}
			if n := version(t, conn, s); n != schema.Version {
				t.Errorf("schema version %d after Ensure, want %d", n, schema.Version)
			}
			var claims uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name LIKE 'schema_upgrade%'", s.DB).Scan(&claims); err != nil {
				t.Fatal(err)
			}
			if claims != 0 {
				t.Errorf("%d claims left after the upgrade", claims)
			}
		})
	}
}

// claimConn is the server's shared connection and the schema of database db there.
func claimConn(t *testing.T, ch *chtest.Server, db string) (driver.Conn, schema.Schema) {
	t.Helper()
	conn := ch.Conn(t)
	var v string
	if err := conn.QueryRow(context.Background(), "SELECT version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return conn, schema.Schema{Flavor: schema.DetectFlavor(v), DB: db}
}

func version(t *testing.T, conn driver.Conn, s schema.Schema) int {
	t.Helper()
	var v uint32
	if err := conn.QueryRow(context.Background(), s.SelectVersion()).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return int(v)
}

// TestReadClaimWhileDropped: reading the claim while its holder makes and gives it back
// again and again finds it or finds none, never an error. 18.16 lists the tables before it
// reads their columns and metadata files, so a claim dropped in between failed a read
// (UNKNOWN_TABLE, or a metadata file not found), and a resolver waiting for another's
// upgrade gave up its start with that error.
func TestReadClaimWhileDropped(t *testing.T) {
	ch := legacyServer.Get(t)
	conn, s := claimConn(t, ch, ch.TestDB(t))
	ctx := context.Background()
	for _, q := range []string{s.CreateDatabase(), s.CreateVersionTable()} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	stop := make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				holder <- nil
				return
			default:
			}
			for _, q := range []string{s.ClaimUpgrade("0123456789abcdef"), s.ReleaseUpgrade()} {
				if err := conn.Exec(ctx, q); err != nil {
					holder <- err
					return
				}
			}
		}
	}()
	found, none := 0, 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		owner, _, err := schema.ReadClaim(ctx, conn, s)
		if err != nil {
			t.Errorf("reading the claim after %d reads: %v", found+none, err)
			break
		}
		if owner == "" {
			none++
		} else {
			found++
		}
	}
	close(stop)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	if found == 0 || none == 0 {
		t.Errorf("the reads found the claim %d times and none %d times: the race was not run", found, none)
	}
}
