package passivedns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// errFatal: retrying cannot help (a schema newer than this build).
var errFatal = errors.New("cannot continue")

// ensureSchema brings the database to schemaVersion (auto) or checks that it is there.
func ensureSchema(ctx context.Context, conn driver.Conn, s schema, auto bool) error {
	if auto {
		for _, q := range []string{s.createDatabase(), s.createVersionTable()} {
			if err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("creating schema: %w", err)
			}
		}
	}
	current, err := currentVersion(ctx, conn, s)
	if err != nil {
		return err
	}
	if current > schemaVersion {
		return fmt.Errorf("%w: database %s has schema version %d, newer than the %d this passivedns knows; upgrade passivedns or point it at another database",
			errFatal, s.db, current, schemaVersion)
	}
	if !auto {
		if current < schemaVersion {
			return fmt.Errorf("%w: database %s has schema version %d, this passivedns needs %d; use 'schema auto' once to upgrade it",
				errFatal, s.db, current, schemaVersion)
		}
		return nil
	}
	initial := current
	if current < schemaVersion {
		// An upgrade may backfill a large table: it must not be cut short by the deadline
		// of whatever insert needed the schema, which would leave it half done.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), migrationTimeout)
		defer cancel()
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": 0}))
		if initial > 0 {
			log.Infof("Upgrading the schema of database %s from version %d to %d", s.db, initial, schemaVersion)
		}
	}
	for _, m := range s.migrations() {
		if m.version <= current {
			continue
		}
		for _, q := range m.statements {
			if err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("upgrading schema to version %d: %w", m.version, err)
			}
		}
		if err := conn.Exec(ctx, s.insertVersion(), uint32(m.version), "passivedns"); err != nil {
			return fmt.Errorf("recording schema version %d: %w", m.version, err)
		}
		current = m.version
	}
	if initial > 0 && initial < current {
		log.Infof("Upgraded the schema of database %s from version %d to %d", s.db, initial, current)
	}
	if s.f.modern && s.retention > 0 {
		if err := conn.Exec(ctx, s.alterRetention()); err != nil {
			return fmt.Errorf("setting retention: %w", err)
		}
	} else if s.retention > 0 {
		log.Warningf("ClickHouse %s has no TTL: retention is not enforced, drop old partitions of %s yourself", s.f.version, s.table("responses"))
	}
	return nil
}

func currentVersion(ctx context.Context, conn driver.Conn, s schema) (int, error) {
	var v uint32
	err := conn.QueryRow(ctx, s.selectVersion()).Scan(&v)
	if err != nil {
		var ex *clickhouse.Exception
		if errors.As(err, &ex) && (ex.Code == codeUnknownTable || ex.Code == codeUnknownDatabase) {
			return 0, fmt.Errorf("%w: no passivedns schema in database %s; create it with 'schema auto'", errFatal, s.db)
		}
		return 0, err
	}
	return int(v), nil
}

// migrationTimeout bounds a schema upgrade, backfills included.
const migrationTimeout = time.Hour

// ClickHouse error codes the sink acts on.
const (
	codeUnknownTable    = 60
	codeUnknownDatabase = 81
)
