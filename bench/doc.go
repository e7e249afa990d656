// Package bench holds the benchmark tooling of passivedns: the Go helpers that
// scripts/bench.sh (make bench) drives, in cmd/benchtool, and a test that runs the whole
// benchmark once in a tiny configuration so that the scripts cannot rot. The method and
// the latest figures are in BENCHMARKS.md at the repository root.
package bench
