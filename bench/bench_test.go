package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBenchTiny runs the whole benchmark (scripts/bench.sh, which `make bench` runs) once
// in its tiny configuration: every piece (the resolver comparison with each config and
// workload, fixed-rate latency, ClickHouse down, profiling, ingest, the Native insert, the
// Go benchmarks) runs for a second or so. It fails when a piece fails or when passivedns
// did not record exactly the answers CoreDNS gave; it asserts no timing.
func TestBenchTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "scripts", "bench.sh"), "--tiny", "--dir", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	err := cmd.Run()
	t.Logf("bench.sh --tiny took %s", time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("bench.sh --tiny: %v\n%s", err, out.String())
	}
	results, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Every table must be there, with passivedns in it.
	for _, want := range []string{
		"Resolver overhead at saturation: whoami",
		"Resolver overhead at saturation: cache + forward",
		"Latency at a fixed",
		"Memory: peak RSS",
		"Ingest: records per second",
		"clickhouse-client Native, blocks of the batch size",
		"clickhouse-client Native, one block",
		"Bytes on disk",
		"ClickHouse CPU per row by materialized view",
		"| history_rrset_mv |",
		"History lookups over",
		"| name |",
		"BenchmarkCapture/polling-stand-in ",
		"BenchmarkCaptureBaseline ",
		"BenchmarkDecode ",
		"ClickHouse CPU µs per row",
		"| passivedns |",
		"| passivedns-spool |",
		"| passivedns-null |",
		"| dnstap |",
		"| log |",
	} {
		if !strings.Contains(string(results), want) {
			t.Errorf("results.md lacks %q:\n%s", want, results)
		}
	}
	// The ingest rows carry clickhouse-client's rate beside the writer's, both ways.
	if !regexp.MustCompile(`\| [0-9]+ \([0-9.]+\) \| [0-9]+ \([0-9.]+\) \|`).Match(results) {
		t.Errorf("the ingest table has no clickhouse-client rates:\n%s", results)
	}
	if strings.Contains(string(results), "rows = answered in 0/") {
		t.Errorf("passivedns lost records:\n%s", results)
	}
	profiles, _ := filepath.Glob(filepath.Join(dir, "runs", "prof-*", "cpu.top"))
	if len(profiles) == 0 {
		t.Errorf("no CPU profile summary (runs/prof-*/cpu.top)")
	}
}
