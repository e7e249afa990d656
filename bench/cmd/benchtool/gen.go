package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// The answer mix of the generated zone, per name: what a resolver's cache sees from
// ordinary web and mail traffic. Queries for names outside it get NXDOMAIN.
var kinds = []struct {
	kind   string
	weight float64
}{
	{"A", 0.60}, {"AAAA", 0.20}, {"CNAME", 0.10}, {"MX", 0.05}, {"TXT", 0.05},
}

// gen writes DIR/zone.db (an authoritative zone for the file plugin) and DIR/queries.txt
// (a dnsperf data file). Query names follow a Zipf law over the names of the zone;
// -nx of the queries ask for names that do not exist (Zipf over as many missing names).
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	names := fs.Int("names", 100000, "names in the zone")
	queries := fs.Int("queries", 1000000, "lines in the query file")
	zone := fs.String("zone", "bench.test.", "zone origin")
	nx := fs.Float64("nx", 0.10, "share of queries for missing names (NXDOMAIN)")
	s := fs.Float64("s", 1.1, "Zipf exponent (> 1)")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("out", ".", "output folder")
	fs.Parse(args)
	if *names < 10 || *queries < 1 || *s <= 1 {
		return fmt.Errorf("need -names >= 10, -queries >= 1, -s > 1")
	}
	rng := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))

	// The kind of each name, in a shuffled order so that popular names are of every kind.
	kind := make([]string, *names)
	for i := range kind {
		x, acc := rng.Float64(), 0.0
		kind[i] = kinds[len(kinds)-1].kind
		for _, k := range kinds {
			if acc += k.weight; x < acc {
				kind[i] = k.kind
				break
			}
		}
	}
	label := func(i int) string { return fmt.Sprintf("h%d-%x", i, (uint64(i)*0x9e3779b97f4a7c15)>>44) }

	zf, err := os.Create(filepath.Join(*out, "zone.db"))
	if err != nil {
		return err
	}
	zw := bufio.NewWriterSize(zf, 1<<20)
	fmt.Fprintf(zw, "$ORIGIN %s\n$TTL 3600\n", *zone)
	fmt.Fprintf(zw, "@ IN SOA ns.%s hostmaster.%s 1 7200 3600 1209600 300\n@ IN NS ns\nns IN A 127.0.0.1\n", *zone, *zone)
	for i, k := range kind {
		l := label(i)
		switch k {
		case "A":
			for j := 0; j < 1+i%3; j++ {
				fmt.Fprintf(zw, "%s IN A 10.%d.%d.%d\n", l, (i>>16)&255, (i>>8)&255, (i+j*7)&255)
			}
		case "AAAA":
			fmt.Fprintf(zw, "%s IN AAAA 2001:db8:%x:%x::%x\n", l, (i>>16)&0xffff, i&0xffff, 1+i%7)
		case "CNAME": // to another name of the zone, which the file plugin follows
			t := (i*7919 + 1) % *names
			for kind[t] != "A" {
				t = (t + 1) % *names
			}
			fmt.Fprintf(zw, "%s IN CNAME %s\n", l, label(t))
		case "MX":
			fmt.Fprintf(zw, "%s IN MX 10 mx1.%s\n%s IN MX 20 mx2.%s\n", l, l, l, l)
			fmt.Fprintf(zw, "mx1.%s IN A 10.250.%d.%d\nmx2.%s IN A 10.251.%d.%d\n", l, (i>>8)&255, i&255, l, (i>>8)&255, i&255)
		case "TXT":
			fmt.Fprintf(zw, "%s IN TXT \"v=spf1 ip4:10.%d.%d.0/24 -all\" \"site-verification=%016x\"\n", l, (i>>8)&255, i&255, rng.Uint64())
		}
	}
	if err := zw.Flush(); err != nil {
		return err
	}
	if err := zf.Close(); err != nil {
		return err
	}

	qf, err := os.Create(filepath.Join(*out, "queries.txt"))
	if err != nil {
		return err
	}
	qw := bufio.NewWriterSize(qf, 1<<20)
	zipf := rand.NewZipf(rng, *s, 1, uint64(*names-1))
	// Zipf ranks are mapped to names by a fixed permutation, so rank 0 is not name 0.
	perm := rng.Perm(*names)
	for range *queries {
		r := perm[zipf.Uint64()]
		if rng.Float64() < *nx {
			fmt.Fprintf(qw, "nx%d.%s A\n", r, *zone)
			continue
		}
		qt := kind[r]
		if qt == "CNAME" {
			qt = "A"
		}
		fmt.Fprintf(qw, "%s.%s %s\n", label(r), *zone, qt)
	}
	if err := qw.Flush(); err != nil {
		return err
	}
	return qf.Close()
}
