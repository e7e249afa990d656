// Package schematest holds what the schema tests on 18.16 (internal/chsink) and on 26.x
// (internal/schema, through chDB) both check, so the two servers are held to one oracle.
package schematest

import "strings"

// DetailCheck reads one detail table of schema version 3 back (Detail) and recomputes what
// it must hold from the raw log (Recompute): the sensors and TTLs of every answer record
// in responses, per key of the history table beside it. Both queries have one %s for the
// table they read.
type DetailCheck struct{ Table, Detail, Recompute string }

// DetailQuery is Detail reading table.
func (c DetailCheck) DetailQuery(table string) string {
	return strings.Replace(c.Detail, "%s", table, 1)
}

// RecomputeQuery is Recompute reading responses.
func (c DetailCheck) RecomputeQuery(responses string) string {
	return strings.Replace(c.Recompute, "%s", responses, 1)
}

// DetailChecks are the checks of the three detail tables.
var DetailChecks = []DetailCheck{
	{"history_detail_by_name",
		"SELECT rrname, rrtype, rdata, arraySort(groupUniqArrayMerge(sensors)), minMerge(ttl_min), maxMerge(ttl_max) FROM %s GROUP BY rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata",
		"SELECT rrname, rrtype, rdata, arraySort(groupUniqArray(CAST(sensor AS String))), min(ttl), max(ttl) FROM %s ARRAY JOIN answer.name AS rrname, answer.type AS rrtype, answer.data AS rdata, answer.ttl AS ttl GROUP BY rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata"},
	{"history_detail_by_ip",
		"SELECT rrname, rrtype, arraySort(groupUniqArrayMerge(sensors)), minMerge(ttl_min), maxMerge(ttl_max) FROM %s GROUP BY ip, rrname, rrtype ORDER BY rrname, rrtype, min(ip)",
		"SELECT rrname, rrtype, arraySort(groupUniqArray(CAST(sensor AS String))), min(ttl), max(ttl) FROM %s ARRAY JOIN answer.name AS rrname, answer.type AS rrtype, answer.data AS rdata, answer.ttl AS ttl WHERE rrtype IN ('A', 'AAAA') GROUP BY rdata, rrname, rrtype ORDER BY rrname, rrtype, min(IPv6StringToNum(if(rrtype = 'A', concat('::ffff:', rdata), rdata)))"},
	{"history_detail_by_rdata",
		"SELECT rrname, rrtype, rdata, arraySort(groupUniqArrayMerge(sensors)), minMerge(ttl_min), maxMerge(ttl_max) FROM %s GROUP BY target, rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata",
		"SELECT rrname, rrtype, rdata, arraySort(groupUniqArray(CAST(sensor AS String))), min(ttl), max(ttl) FROM %s ARRAY JOIN answer.name AS rrname, answer.type AS rrtype, answer.data AS rdata, answer.ttl AS ttl " +
			"WHERE rrtype IN ('CNAME', 'DNAME', 'NS', 'PTR', 'MX', 'KX', 'HTTPS', 'SVCB', 'SRV') GROUP BY rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata"},
}
