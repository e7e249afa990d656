// Command benchtool is the Go side of scripts/bench.sh:
//
//	benchtool gen -names N -queries Q -out DIR        zone and dnsperf query file (Zipf mix)
//	benchtool tapsink -socket PATH -out FILE          dnstap receiver on a unix socket
//	benchtool latency FILE                            p50/p99/mean from dnsperf -v output
//	benchtool ports N                                 N free loopback ports (TCP and UDP)
//	benchtool ingest -dsn DSN ...                     the writer's ingest rate, in-process
//	benchtool querybench -ch URL -api URL ...         p50/p99 of history API lookups and their SQL
//	benchtool summarize FILE                          the results table from bench.sh's TSV
//
// Every subcommand is bounded in time and count; all traffic stays on loopback.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmds := map[string]func([]string) error{
		"gen":        gen,
		"tapsink":    tapsink,
		"latency":    latency,
		"ports":      ports,
		"ingest":     ingest,
		"summarize":  summarize,
		"querybench": querybench,
	}
	f, ok := cmds[os.Args[1]]
	if !ok {
		usage()
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool gen|tapsink|latency|ports|ingest|summarize [flags]")
	os.Exit(2)
}
