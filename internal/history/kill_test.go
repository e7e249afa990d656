package history_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/passivedns/passivedns/internal/history"
)

// slowTable makes a table that slowQuery reads for several seconds.
func slowTable(t *testing.T) string {
	t.Helper()
	db := fmt.Sprintf("kill_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	for _, sql := range []string{
		"CREATE DATABASE " + db,
		"CREATE TABLE " + db + ".big (k String, v UInt64) ENGINE = MergeTree ORDER BY k",
		"INSERT INTO " + db + ".big SELECT toString(cityHash64(number)), number FROM numbers(400000)",
	} {
		if _, err := testCH.Query(sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { testCH.Query("DROP DATABASE IF EXISTS " + db) })
	return db
}

// slowQuery sleeps 20 µs a row: 400,000 rows take about 8 s, in blocks of 65,536 rows
// (the server looks for a kill between blocks).
func slowQuery(db string) string {
	return "SELECT k, sum(v) FROM " + db + ".big WHERE sleepEachRow(0.00002) = 0 GROUP BY k ORDER BY k LIMIT 3"
}

func running(t *testing.T, prefix string) int {
	out, err := testCH.Query("SELECT count() FROM system.processes WHERE startsWith(query_id, '" + prefix + "')")
	if err != nil {
		t.Errorf("system.processes: %v", err)
		return -1
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// TestKillOnRequestEnd: slow queries from more clients than the limit, some canceled,
// some timed out, some stopped by the caller: system.processes never shows more of
// them than the limit, and none once the callers are done.
func TestKillOnRequestEnd(t *testing.T) {
	db := slowTable(t)
	const limit = 3
	d := history.New(history.Options{ClickHouse: &clickhouse.Options{Addr: []string{testCH.TCPAddr}}, Database: db, MaxConcurrent: limit, QueryTimeout: 2 * time.Second})
	defer d.Close()
	conn, _, err := d.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prefix := d.QueryIDPrefix()

	stop := make(chan struct{})
	var most, samples atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			n := int64(running(t, prefix))
			samples.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
		}
	}()
	var wg sync.WaitGroup
	var timedOut, canceled, stopped atomic.Int64
	start := time.Now()
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 2 {
				ctx, cancel := context.WithCancel(context.Background())
				if (c+round)%2 == 0 { // a client that goes away
					time.AfterFunc(time.Duration(300+100*c)*time.Millisecond, cancel)
				}
				sql := slowQuery(db)
				if c%4 == 3 { // rows stream from the first block on: the caller stops after one
					sql = "SELECT k FROM " + db + ".big WHERE sleepEachRow(0.00002) = 0"
				}
				err := d.Query(ctx, conn, sql, func(driver.Rows) (bool, error) { return false, nil })
				cancel()
				switch {
				case errors.Is(err, context.Canceled):
					canceled.Add(1)
				case errors.Is(err, history.ErrUnavailable):
					timedOut.Add(1)
				case err == nil:
					stopped.Add(1)
				default:
					t.Errorf("client %d: %v", c, err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	left := running(t, prefix)
	close(stop)
	<-sampled
	t.Logf("16 slow queries from 8 clients, limit %d: %d canceled, %d timed out, %d stopped early, in %v; at most %d running on ClickHouse (%d samples), %d left after",
		limit, canceled.Load(), timedOut.Load(), stopped.Load(), elapsed.Round(time.Millisecond), most.Load(), samples.Load(), left)
	if most.Load() > limit {
		t.Errorf("%d API queries ran on ClickHouse at once, limit %d", most.Load(), limit)
	}
	if most.Load() < 2 {
		t.Errorf("at most %d queries ran at once: the test did not load the server", most.Load())
	}
	if left != 0 {
		t.Errorf("%d API queries still running after every caller returned", left)
	}
	if canceled.Load() == 0 || timedOut.Load() == 0 || stopped.Load() == 0 {
		t.Errorf("want canceled, timed-out and stopped queries: %d, %d, %d", canceled.Load(), timedOut.Load(), stopped.Load())
	}
}

// TestServerLimits18: which bounds 18.16 itself enforces on an API query.
func TestServerLimits18(t *testing.T) {
	db := slowTable(t)
	for _, tc := range []struct {
		opts history.Options
		code int32
	}{
		{history.Options{MaxRowsRead: 100000}, 158}, // TOO_MANY_ROWS
		{history.Options{MaxMemory: 1 << 20}, 241},  // MEMORY_LIMIT_EXCEEDED
	} {
		tc.opts.ClickHouse = &clickhouse.Options{Addr: []string{testCH.TCPAddr}}
		tc.opts.Database, tc.opts.MaxConcurrent = db, 1
		d := history.New(tc.opts)
		conn, _, err := d.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = d.Query(context.Background(), conn, slowQuery(db), func(driver.Rows) (bool, error) { return true, nil })
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != tc.code || !errors.Is(err, history.ErrTooBig) {
			t.Errorf("%+v: %v, want code %d", tc.opts, err, tc.code)
		}
		t.Logf("MaxRowsRead %d MaxMemory %d: %v after %v", tc.opts.MaxRowsRead, tc.opts.MaxMemory, err, time.Since(start).Round(time.Millisecond))
		d.Close()
	}
}
