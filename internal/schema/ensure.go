package schema

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	current, err := checkVersion(ctx, conn, s, auto)
	if err != nil || !auto {
		return err
	}
	initial := current
	if current < Version {
		// Waiting for another process's upgrade ends with the caller's deadline; the
		// writer calls again.
		release, err := claimUpgrade(ctx, conn, s, log)
		if err != nil {
			return err
		}
		defer release()
		// An upgrade may backfill a large table: it must not be cut short by the deadline
		// of whatever insert needed the schema, which would leave it half done.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), migrationTimeout)
		defer cancel()
		settings["max_execution_time"] = 0
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(settings))
		// Whoever held the claim before may have done the upgrade meanwhile, through another
		// node of a cluster: this node's replica of the versions must have it first.
		if s.Cluster != "" {
			if err := conn.Exec(ctx, s.SyncVersions()); err != nil {
				return fmt.Errorf("reading the schema version: %w", err)
			}
		}
		if current, err = checkVersion(ctx, conn, s, auto); err != nil {
			return err
		}
		initial = current
		if initial > 0 && initial < Version {
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

// checkVersion reads the database's schema version and says whether this build can use it
// (auto: upgrade it).
func checkVersion(ctx context.Context, conn driver.Conn, s Schema, auto bool) (int, error) {
	current, err := currentVersion(ctx, conn, s)
	if err != nil {
		return 0, err
	}
	if current > Version {
		return 0, fmt.Errorf("%w: database %s has schema version %d, newer than the %d this passivedns knows; upgrade passivedns or point it at another database",
			ErrFatal, s.DB, current, Version)
	}
	if !auto && current < Version {
		return 0, fmt.Errorf("%w: database %s has schema version %d, this passivedns needs %d; use 'schema auto' once to upgrade it",
			ErrFatal, s.DB, current, Version)
	}
	return current, nil
}

// claimUpgrade waits until this writer (s.Claimant) holds the database's upgrade claim, and
// returns what gives it back. Of several resolvers that start together on one database (or
// a fleet upgraded at once), one runs the migrations; the others wait here, and their
// writers with them. Without the claim each would backfill the new tables, counting the
// answers from before the upgrade once per resolver, and a resolver already writing
// while another backfilled would have its answers from before the new views counted by
// both. A claim older than an upgrade may take is left by a process that died: it is
// dropped, and the upgrade runs again.
func claimUpgrade(ctx context.Context, conn driver.Conn, s Schema, log clog.P) (release func(), err error) {
	token := s.Claimant
	if token == "" {
		token = NewClaimant()
	}
	release = func() {
		// Not ctx: an upgrade that failed on its deadline still gives the claim back.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ddlTaskTimeout)
		defer cancel()
		if err := dropClaim(ctx, conn, s, token); err != nil {
			log.Errorf("Cannot drop %s after the schema upgrade: %v; other resolvers wait for it until it is %s old, or until it is dropped",
				s.Table(upgradeClaim), err, staleClaim)
		}
	}
	waiting := false
	for {
		err := conn.Exec(ctx, s.ClaimUpgrade(token))
		if err == nil {
			return release, nil
		}
		if !claimedByOther(err) {
			if s.Cluster != "" {
				release() // the nodes that made it keep it otherwise
			}
			return nil, fmt.Errorf("claiming the schema upgrade: %w", err)
		}
		owner, age, err := readClaim(ctx, conn, s)
		switch {
		case err != nil:
			return nil, fmt.Errorf("reading the schema upgrade claim: %w", err)
		case owner == "":
			// Given back meanwhile, or (on a cluster) not made on this node yet: try again
			// after a pause, not in a busy loop.
		case owner == token:
			// This writer's own, from an attempt whose answer was lost (a connection cut
			// after the server made the claim): without this it would wait for itself until
			// the claim went stale.
			return release, nil
		case age > staleClaim:
			log.Warningf("Dropping %s, %s old: the process that made it died during an upgrade; upgrading again", s.Table(upgradeClaim), age)
			if err := dropClaim(ctx, conn, s, owner); err != nil {
				return nil, fmt.Errorf("dropping a stale schema upgrade claim: %w", err)
			}
			continue
		}
		if !waiting && owner != "" {
			waiting = true
			log.Infof("Another passivedns is upgrading the schema of database %s (%s, %s old); waiting for it", s.DB, s.Table(upgradeClaim), age)
		}
		select {
		case <-time.After(claimPoll):
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for another passivedns to upgrade the schema of database %s: %w", s.DB, ctx.Err())
		}
	}
}

// readClaim returns the token of the claim on the connected server ("" when there is none)
// and its age. 18.16 lists the tables before it reads their columns and metadata files, so
// a read that races the claim's drop can fail (UNKNOWN_TABLE, or a file not found): a
// failed read is tried again, claimReads times in all.
func readClaim(ctx context.Context, conn driver.Conn, s Schema) (token string, age time.Duration, err error) {
	for try := 1; ; try++ {
		if token, age, err = readClaimOnce(ctx, conn, s); err == nil || try == claimReads {
			return token, age, err
		}
		select {
		case <-time.After(claimReadPause):
		case <-ctx.Done():
			return "", 0, err
		}
	}
}

const (
	claimReads     = 3
	claimReadPause = 50 * time.Millisecond
)

func readClaimOnce(ctx context.Context, conn driver.Conn, s Schema) (token string, age time.Duration, err error) {
	var quoted string
	var seconds uint32
	switch err := conn.QueryRow(ctx, s.SelectUpgradeClaim(), s.DB).Scan(&quoted, &seconds); {
	case errors.Is(err, sql.ErrNoRows):
		return "", 0, nil
	case err != nil:
		return "", 0, err
	}
	return strings.Trim(quoted, "'"), time.Duration(seconds) * time.Second, nil
}

// dropClaim drops the claim if token made it.
func dropClaim(ctx context.Context, conn driver.Conn, s Schema, token string) error {
	owner, _, err := readClaim(ctx, conn, s)
	if err != nil || owner != token {
		return err
	}
	return conn.Exec(ctx, s.ReleaseUpgrade())
}

// NewClaimant names a writer in the upgrade claims it makes (Schema.Claimant): random
// hex, so it needs no escaping in the claim's DDL.
func NewClaimant() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// claimedByOther says whether a failed claim failed because the claim exists. Through ON
// CLUSTER the nodes' errors come back in the message of another code, and over HTTP as
// text: the server's own wording is matched (18.16 "Code: 57, ...", current versions
// "Code: 57. ... (TABLE_ALREADY_EXISTS)").
func claimedByOther(err error) bool {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && ex.Code == CodeTableExists {
		return true
	}
	msg := err.Error()
	code := "Code: " + strconv.Itoa(CodeTableExists)
	return strings.Contains(msg, code+",") || strings.Contains(msg, code+".") || strings.Contains(msg, "TABLE_ALREADY_EXISTS")
}

// staleClaim: past the longest upgrade, its process is gone. A variable for the tests.
var staleClaim = migrationTimeout + 5*time.Minute

const claimPoll = 500 * time.Millisecond

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
	CodeTableExists     = 57
)
