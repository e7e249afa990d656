package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// A result line of bench.sh: a kind, then key=value fields.
type result struct {
	kind string
	kv   map[string]string
}

func (r result) s(k string) string { return r.kv[k] }

func (r result) f(k string) float64 {
	v, _ := strconv.ParseFloat(r.kv[k], 64)
	return v
}

func readResults(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []result
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		r := result{kind: fields[0], kv: map[string]string{}}
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, "=")
			r.kv[k] = v
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var configOrder = []string{"base", "log", "dnstap", "passivedns", "passivedns-spool", "passivedns-null"}

var workloadTitle = map[string]string{
	"whoami":  "whoami (the cheapest answer)",
	"forward": "cache + forward to an authoritative CoreDNS (Zipf mix over the generated zone)",
}

// summarize prints the results of bench.sh (results.tsv) as Markdown tables: medians over
// the rounds, and ratios to the baseline taken per round (the runs of a round are
// neighbours in time) and then the median of those.
func summarize(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: benchtool summarize results.tsv")
	}
	rs, err := readResults(args[0])
	if err != nil {
		return err
	}
	pick := func(kind, workload, config string) []result {
		var out []result
		for _, r := range rs {
			if r.kind == kind && r.s("workload") == workload && r.s("config") == config {
				out = append(out, r)
			}
		}
		return out
	}
	vals := func(rr []result, f func(result) float64) []float64 {
		var v []float64
		for _, r := range rr {
			v = append(v, f(r))
		}
		return v
	}
	cpuPer1k := func(r result) float64 {
		if r.f("responses") == 0 {
			return 0
		}
		return 1000 * r.f("cpu_s") / r.f("responses")
	}
	// ratio: the median over rounds of this config's value over the baseline's in that round.
	ratio := func(kind, workload, config string, f func(result) float64) string {
		base := map[string]float64{}
		for _, r := range pick(kind, workload, "base") {
			base[r.s("round")] = f(r)
		}
		var v []float64
		for _, r := range pick(kind, workload, config) {
			if b := base[r.s("round")]; b > 0 {
				v = append(v, f(r)/b)
			}
		}
		if len(v) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3f", median(v))
	}
	workloads := []string{}
	for _, r := range rs {
		if w := r.s("workload"); w != "" && !slices.Contains(workloads, w) {
			workloads = append(workloads, w)
		}
	}

	for _, w := range workloads {
		if len(pick("sat", w, "base")) == 0 && len(pick("sat", w, "passivedns")) == 0 {
			continue
		}
		fmt.Printf("## Resolver overhead at saturation: %s\n\n", workloadTitle[w])
		fmt.Println("| config | QPS (median) | QPS vs base | mean latency ms | CPU s / 1000 queries | CPU vs base | QPS vs base at equal CPU | CoreDNS CPU use | peak RSS MiB | records |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
		for _, c := range configOrder {
			rr := pick("sat", w, c)
			if len(rr) == 0 {
				continue
			}
			util := func(r result) float64 {
				if r.f("runtime") == 0 {
					return 0
				}
				return r.f("cpu_s") / r.f("runtime")
			}
			cpuRatio := ratio("sat", w, c, cpuPer1k)
			implied := "-"
			if v, err := strconv.ParseFloat(cpuRatio, 64); err == nil && v > 0 {
				implied = fmt.Sprintf("%.3f", 1/v)
			}
			fmt.Printf("| %s | %.0f | %s | %.3f | %.4f | %s | %s | %.0f%% | %.0f | %s |\n", c,
				median(vals(rr, func(r result) float64 { return r.f("qps") })),
				ratio("sat", w, c, func(r result) float64 { return r.f("qps") }),
				median(vals(rr, func(r result) float64 { return r.f("mean_ms") })),
				median(vals(rr, cpuPer1k)),
				cpuRatio, implied,
				100*median(vals(rr, util)),
				median(vals(rr, func(r result) float64 { return r.f("hwm_kb") }))/1024,
				records(c, rr))
		}
		fmt.Printf("\n%d rounds. CPU use is CoreDNS's CPU time over the run's length (100%% = the one core it has); below 100%% the core\n"+
			"was shared or the load generator was the limit, and \"QPS vs base at equal CPU\" (1 / CPU vs base) is the ratio a saturated core would give.\n\n", len(pick("sat", w, "base")))
	}

	for _, w := range workloads {
		if len(pick("lat", w, "base")) == 0 && len(pick("lat", w, "passivedns")) == 0 {
			continue
		}
		rate := ""
		for _, c := range configOrder {
			if rr := pick("lat", w, c); len(rr) > 0 {
				rate = rr[0].s("rate")
				break
			}
		}
		fmt.Printf("## Latency at a fixed %s queries/s: %s\n\n", rate, w)
		fmt.Println("| config | p50 ms | p99 ms | mean ms | p99 vs base | CPU s / 1000 queries | CPU vs base | records |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
		for _, c := range configOrder {
			rr := pick("lat", w, c)
			if len(rr) == 0 {
				continue
			}
			fmt.Printf("| %s | %.3f | %.3f | %.3f | %s | %.4f | %s | %s |\n", c,
				median(vals(rr, func(r result) float64 { return r.f("p50_ms") })),
				median(vals(rr, func(r result) float64 { return r.f("p99_ms") })),
				median(vals(rr, func(r result) float64 { return r.f("mean_ms") })),
				ratio("lat", w, c, func(r result) float64 { return r.f("p99_ms") }),
				median(vals(rr, cpuPer1k)),
				ratio("lat", w, c, cpuPer1k),
				records(c, rr))
		}
		fmt.Println()
	}

	var memRows []string
	for _, w := range workloads {
		down := pick("down", w, "passivedns")
		if len(down) == 0 {
			continue
		}
		hwm := func(rr []result) string {
			if len(rr) == 0 {
				return "-"
			}
			return fmt.Sprintf("%.0f", median(vals(rr, func(r result) float64 { return r.f("hwm_kb") }))/1024)
		}
		memRows = append(memRows, fmt.Sprintf("| %s | %s | %s | %s | %.0f | %.0f | %.0f |", w,
			hwm(pick("sat", w, "base")), hwm(pick("sat", w, "passivedns")), hwm(down),
			down[0].f("qps"), down[0].f("captured"), down[0].f("dropped")))
	}
	if len(memRows) > 0 {
		fmt.Println("## Memory: peak RSS (VmHWM) of CoreDNS under saturation, MiB")
		fmt.Println()
		fmt.Println("| workload | base | passivedns, ClickHouse up | passivedns, ClickHouse down | QPS while down | captured while down | dropped (queue full) |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, l := range memRows {
			fmt.Println(l)
		}
		fmt.Println()
	}

	// clickhouse-client's rate for the same rows, by batch size ("all": one block).
	native := map[string]float64{}
	nativeCPU := map[string]string{} // ClickHouse's CPU µs per row for them
	for _, r := range rs {
		if r.kind == "native" && r.f("seconds") > 0 {
			b := r.s("batch")
			if b == "" {
				b = "all" // runs before blocks of each batch size
			}
			native[b] = r.f("rows") / r.f("seconds")
			nativeCPU[b] = perRow(r)
		}
	}
	versus := func(rate, base float64) string {
		if base <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f (%.3f)", base, rate/base)
	}
	first := true
	for _, r := range rs {
		if r.kind != "ingest" {
			continue
		}
		if first {
			fmt.Println("## Ingest: records per second into ClickHouse, CoreDNS on one core")
			fmt.Println()
			fmt.Println("| batch | rows | rows/s | CoreDNS CPU µs per row | ClickHouse CPU µs per row | clickhouse-client Native, blocks of the batch size: rows/s (ratio) | clickhouse-client Native, one block: rows/s (ratio) | ClickHouse CPU µs per row, clickhouse-client in blocks of the batch size |")
			fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
			first = false
		}
		rate := r.f("rows") / r.f("seconds")
		fmt.Printf("| %s | %s | %.0f | %.1f | %s | %s | %s | %s |\n", r.s("batch"), r.s("rows"), rate, 1e6*r.f("cpu_s")/r.f("rows"),
			perRow(r), versus(rate, native[r.s("batch")]), versus(rate, native["all"]), nativeCPU[r.s("batch")])
	}
	if !first {
		fmt.Println()
	}

	var kinds []string
	lookups := map[string]map[string]result{}
	for _, r := range rs {
		if r.kind != "query" {
			continue
		}
		k := r.s("kind")
		if lookups[k] == nil {
			kinds = append(kinds, k)
			lookups[k] = map[string]result{}
		}
		lookups[k][r.s("via")] = r
	}
	if len(kinds) > 0 {
		for _, r := range rs {
			if r.kind == "load" {
				fmt.Printf("## History lookups over %s recorded answers\n\n", r.s("rows"))
				fmt.Printf("Recorded through the writer in %.0f s (%.0f rows/s, both CPUs); one lookup at a time, values sampled from the tables.\n\n",
					r.f("seconds"), r.f("rows")/r.f("seconds"))
			}
		}
		fmt.Println("| lookup | API p50 ms | API p99 ms | SQL p50 ms | SQL p99 ms | lookups | mean result lines (API / SQL) |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, k := range kinds {
			a, s := lookups[k]["api"], lookups[k]["sql"]
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s / %s |\n", strings.ReplaceAll(k, "_", " "),
				orDash(a.s("p50_ms")), orDash(a.s("p99_ms")), orDash(s.s("p50_ms")), orDash(s.s("p99_ms")),
				s.s("n"), orDash(a.s("lines")), orDash(s.s("lines")))
		}
		fmt.Println()
	}

	first = true
	for _, r := range rs {
		if r.kind != "disk" {
			continue
		}
		if first {
			fmt.Println("## Bytes on disk of the recorded answers (system.parts, active parts)")
			fmt.Println()
			fmt.Println("| table | rows | bytes | bytes per row |")
			fmt.Println("| --- | ---: | ---: | ---: |")
			first = false
		}
		per := 0.0
		if r.f("rows") > 0 {
			per = r.f("bytes") / r.f("rows")
		}
		fmt.Printf("| %s | %s | %s | %.1f |\n", r.s("table"), r.s("rows"), r.s("bytes"), per)
	}
	if !first {
		fmt.Println()
	}

	printViews(rs)

	var names []string
	bench := map[string][]result{}
	for _, r := range rs {
		if r.kind == "gobench" {
			n := r.s("name")
			if _, ok := bench[n]; !ok {
				names = append(names, n)
			}
			bench[n] = append(bench[n], r)
		}
	}
	if len(names) > 0 {
		fmt.Println("## Capture path (go test -bench), medians")
		fmt.Println()
		fmt.Println("| benchmark | runs | ns/op | B/op | allocs/op |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: |")
		for _, n := range names {
			rr := bench[n]
			fmt.Printf("| %s | %d | %.1f | %.0f | %.0f |\n", n, len(rr),
				median(vals(rr, func(r result) float64 { return r.f("ns_op") })),
				median(vals(rr, func(r result) float64 { return r.f("b_op") })),
				median(vals(rr, func(r result) float64 { return r.f("allocs_op") })))
		}
		fmt.Println()
	}
	return nil
}

// records says whether the logger kept every answer: passivedns rows in ClickHouse
// against responses answered, dnstap responses received against responses answered.
func records(config string, rr []result) string {
	switch config {
	case "passivedns", "passivedns-spool", "passivedns-null":
		ok, rows, want := 0, 0.0, 0.0
		for _, r := range rr {
			rows += r.f("rows")
			want += r.f("rows_expected")
			if r.s("rows") == r.s("rows_expected") {
				ok++
			}
		}
		return fmt.Sprintf("rows = answered in %d/%d runs (%.0f rows, %.0f answered)", ok, len(rr), rows, want)
	case "dnstap":
		got, want := 0.0, 0.0
		for _, r := range rr {
			got += r.f("tap_responses")
			want += r.f("responses")
		}
		if want == 0 {
			return "-"
		}
		return fmt.Sprintf("receiver got %.1f%% of responses", 100*got/want)
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// perRow is the ClickHouse server's CPU per row of an ingest or native result, merges set
// off by the insert included; "-" for results recorded before it was measured.
func perRow(r result) string {
	if r.s("ch_cpu_s") == "" || r.f("rows") <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", 1e6*r.f("ch_cpu_s")/r.f("rows"))
}

// printViews prints ClickHouse's CPU per row for each set of materialized views kept (all,
// none, each alone): the median over the rounds, and what it adds to the raw table alone.
func printViews(rs []result) {
	var keeps []string
	usPerRow := map[string][]float64{}
	for _, r := range rs {
		if r.kind != "views" || r.f("rows") == 0 {
			continue
		}
		k := r.s("keep")
		if _, ok := usPerRow[k]; !ok {
			keeps = append(keeps, k)
		}
		usPerRow[k] = append(usPerRow[k], r.f("ch_cpu_s")*1e6/r.f("rows"))
	}
	if len(keeps) == 0 {
		return
	}
	fmt.Println("## ClickHouse CPU per row by materialized view")
	fmt.Println()
	fmt.Println("The same rows inserted by clickhouse-client into an empty database, with the views named kept and the others dropped; the server's CPU over the insert and its merges.")
	fmt.Println()
	fmt.Println("| views kept | runs | ClickHouse CPU µs per row (median) | over the raw table alone |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	none := median(usPerRow["none"])
	for _, k := range keeps {
		m := median(usPerRow[k])
		over := "-"
		if k != "none" && len(usPerRow["none"]) > 0 {
			over = fmt.Sprintf("%+.1f", m-none)
		}
		fmt.Printf("| %s | %d | %.1f | %s |\n", k, len(usPerRow[k]), m, over)
	}
	fmt.Println()
}
