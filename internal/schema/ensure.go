package schema

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	clog "github.com/coredns/coredns/plugin/pkg/log"
)

// ErrFatal: retrying cannot help (a schema newer than this build).
var ErrFatal = errors.New("cannot continue")

// Ensure brings the database to schemaVersion (auto) or checks that it is there.
func Ensure(ctx context.Context, conn driver.Conn, s Schema, auto bool, log clog.P) error {
	settings := clickhouse.Settings{}
	if s.Cluster != "" {
		// A node that is down would hold each ON CLUSTER statement for 180 s (the
		// default): fail sooner and let the writer retry; the node runs the statement when
		// it is back. A backfill through the Distributed tables completes before its
		// version is recorded.
		settings["distributed_ddl_task_timeout"] = int(ddlTaskTimeout / time.Second)
		settings["insert_distributed_sync"] = 1
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(settings))
	}
	if auto {
		for _, q := range []string{s.CreateDatabase(), s.CreateVersionTable()} {
			if err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("creating schema: %w", err)
			}
		}
	}
	current, err := currentVersion(ctx, conn, s)
	if err != nil {
		return err
	}
	if current > Version {
		return fmt.Errorf("%w: database %s has schema version %d, newer than the %d this passivedns knows; upgrade passivedns or point it at another database",
			ErrFatal, s.DB, current, Version)
	}
	if !auto {
		if current < Version {
			return fmt.Errorf("%w: database %s has schema version %d, this passivedns needs %d; use 'schema auto' once to upgrade it",
				ErrFatal, s.DB, current, Version)
		}
		return nil
	}
	initial := current
	if current < Version {
		// An upgrade may backfill a large table: it must not be cut short by the deadline
		// of whatever insert needed the schema, which would leave it half done.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), migrationTimeout)
		defer cancel()
		settings["max_execution_time"] = 0
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(settings))
		if initial > 0 {
			log.Infof("Upgrading the schema of database %s from version %d to %d", s.DB, initial, Version)
		}
	}
	for _, m := range s.Migrations() {
		if m.Version <= current {
			continue
		}
		for _, q := range m.Statements {
			if err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("upgrading schema to version %d: %w", m.Version, err)
			}
		}
		if err := conn.Exec(ctx, s.InsertVersion(), uint32(m.Version), "passivedns"); err != nil {
			return fmt.Errorf("recording schema version %d: %w", m.Version, err)
		}
		current = m.Version
	}
	if initial > 0 && initial < current {
		log.Infof("Upgraded the schema of database %s from version %d to %d", s.DB, initial, current)
	}
	if s.Flavor.Modern && s.Retention > 0 {
		if err := conn.Exec(ctx, s.AlterRetention()); err != nil {
			return fmt.Errorf("setting retention: %w", err)
		}
	} else if s.Retention > 0 {
		log.Warningf("ClickHouse %s has no TTL: retention is not enforced, drop old partitions of %s yourself", s.Flavor.Version, s.Table("responses"))
	}
	return nil
}

func currentVersion(ctx context.Context, conn driver.Conn, s Schema) (int, error) {
	var v uint32
	err := conn.QueryRow(ctx, s.SelectVersion()).Scan(&v)
	if err != nil {
		var ex *clickhouse.Exception
		if errors.As(err, &ex) && (ex.Code == CodeUnknownTable || ex.Code == CodeUnknownDatabase) {
			return 0, fmt.Errorf("%w: no passivedns schema in database %s; create it with 'schema auto'", ErrFatal, s.DB)
		}
		return 0, err
	}
	return int(v), nil
}

// migrationTimeout bounds a schema upgrade, backfills included.
const migrationTimeout = time.Hour

// ddlTaskTimeout is how long an ON CLUSTER statement waits for every node.
const ddlTaskTimeout = 60 * time.Second

// ClickHouse error codes the sink acts on.
const (
	CodeUnknownTable    = 60
	CodeUnknownDatabase = 81
)
