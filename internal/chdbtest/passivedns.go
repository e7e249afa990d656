package chdbtest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/passivedns/passivedns/internal/schema"
)

// The plugin's own SQL on 26.x: chDB is an engine, not a server, so the statements are the
// schema package's, with the clickhouse-go parameters and the native insert blocks replaced
// by literals.

// ForTest opens the process's chDB session in a folder of the test's own, closed when
// the test ends.
func ForTest(tb testing.TB) *Session {
	tb.Helper()
	s, err := Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// MustExec runs sql like Exec and fails the test when it fails, showing the statement.
func (s *Session) MustExec(tb testing.TB, sql string) string {
	tb.Helper()
	out, err := s.Exec(sql)
	if err != nil {
		tb.Fatalf("on ClickHouse 26.x: %v\nstatement:\n%s", err, sql)
	}
	return out
}

// Literal is v as a ClickHouse SQL literal, for every type the plugin binds.
func Literal(v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`).Replace(v) + "'"
	case int64:
		return strconv.FormatInt(v, 10)
	case clickhouse.GroupSet:
		q := make([]string, len(v.Value))
		for i, x := range v.Value {
			q[i] = Literal(x)
		}
		return "(" + strings.Join(q, ", ") + ")"
	case uint16:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case int:
		return strconv.Itoa(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = Literal(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case []uint32:
		q := make([]string, len(v))
		for i, n := range v {
			q[i] = Literal(n)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	panic(fmt.Sprintf("no literal for %T", v))
}

// Bind replaces the clickhouse-go placeholders (?) of sql with literals, as clickhouse-go
// binds them on the client side.
func Bind(tb testing.TB, sql string, args ...any) string {
	tb.Helper()
	parts := strings.Split(sql, "?")
	if len(parts) != len(args)+1 {
		tb.Fatalf("%d placeholders for %d arguments in %s", len(parts)-1, len(args), sql)
	}
	var b strings.Builder
	for i, a := range args {
		b.WriteString(parts[i])
		b.WriteString(Literal(a))
	}
	b.WriteString(parts[len(args)])
	return b.String()
}

// EnsureSchema issues, in order, the statements schema.Ensure issues with schema auto on
// an empty database, or from version from on.
func EnsureSchema(tb testing.TB, sess *Session, s schema.Schema, from int) {
	tb.Helper()
	sess.MustExec(tb, s.CreateDatabase())
	sess.MustExec(tb, s.CreateVersionTable())
	if got := sess.MustExec(tb, s.SelectVersion()); got != strconv.Itoa(from)+"\n" {
		tb.Fatalf("%s: %q, want %d", s.SelectVersion(), got, from)
	}
	for _, m := range s.Migrations() {
		if m.Version <= from {
			continue
		}
		for _, q := range m.Statements {
			sess.MustExec(tb, q)
		}
		sess.MustExec(tb, Bind(tb, s.InsertVersion(), uint32(m.Version), "passivedns"))
	}
	if got := sess.MustExec(tb, s.SelectVersion()); got != strconv.Itoa(schema.Version)+"\n" {
		tb.Fatalf("%s after the migrations: %q, want %d", s.SelectVersion(), got, schema.Version)
	}
	if s.Flavor.Modern && s.Retention > 0 {
		sess.MustExec(tb, s.AlterRetention())
	}
}

// PrimaryKeyUsed tells whether an EXPLAIN indexes = 1 plan narrows by the primary key.
func PrimaryKeyUsed(plan string) bool {
	i := strings.Index(plan, "PrimaryKey")
	if i < 0 {
		return false
	}
	rest := plan[i:]
	return strings.Contains(rest, "Keys:") && !strings.Contains(strings.SplitN(rest, "Granules", 2)[0], "Condition: true")
}
