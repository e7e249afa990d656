// Package historytest prints history rows the way ClickHouse prints the columns of their
// query in TSV, so a test can hold what the history API read from 18.16 against what the
// same query returns on 26.x through chDB.
package historytest

import (
	"strconv"
	"strings"

	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/history"
)

// TSV is row h of a query on table t as one TSV line.
func TSV(t history.Table, h history.Row) string {
	cols := []string{h.RRName, h.RRType, h.RData}
	switch t {
	case history.TableByIP:
		cols[2] = h.IPText
	case history.TableByRdata:
		cols = append(cols, h.Target)
	case history.TableRRset, history.TableRRsetDaily:
		cols[2] = arrayText(h.RDatas)
	}
	cols = append(cols, strconv.Itoa(int(h.First)), strconv.Itoa(int(h.Last)), strconv.FormatUint(h.Count, 10))
	if t == history.TableDaily || t == history.TableRRsetDaily {
		cols = append(cols, strconv.Itoa(int(h.Day)))
	}
	if t == history.TableNegative {
		cols = append(cols, arrayText(h.Sensors), h.SOAName, strconv.Itoa(int(h.SOATTL)), h.SOAData)
	}
	return strings.Join(cols, "\t") + "\n"
}

// arrayText prints a string array as ClickHouse's TSV does.
func arrayText(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = chdbtest.Literal(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}
