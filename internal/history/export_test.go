package history

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Query runs sql as the API runs its queries (slot, query_id, bounds, kill), for the
// tests of package history_test.
func (d *DB) Query(ctx context.Context, conn driver.Conn, sql string, each func(driver.Rows) (bool, error)) error {
	return d.query(ctx, conn, sql, nil, each)
}
