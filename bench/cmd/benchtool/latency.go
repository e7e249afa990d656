package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// latency reads dnsperf -v output (one "> RCODE name type seconds" line per answered
// query) and prints "count p50_ms p99_ms mean_ms".
func latency(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: benchtool latency FILE")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	var lat []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "> ") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil || fields[1] == "T" { // "> T name type" is a timeout
			continue
		}
		lat = append(lat, v)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(lat) == 0 {
		return fmt.Errorf("%s: no latency lines (was dnsperf run with -v?)", args[0])
	}
	slices.Sort(lat)
	sum := 0.0
	for _, v := range lat {
		sum += v
	}
	fmt.Printf("%d %.3f %.3f %.3f\n", len(lat), 1000*quantile(lat, 0.50), 1000*quantile(lat, 0.99), 1000*sum/float64(len(lat)))
	return nil
}

// quantile of sorted values, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// ports prints n loopback ports that were free for both TCP and UDP a moment ago.
func ports(args []string) error {
	n := 1
	if len(args) == 1 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil || n < 1 || n > 100 {
			return fmt.Errorf("usage: benchtool ports N (1-100)")
		}
	}
	var held []func() error
	defer func() {
		for _, c := range held {
			c()
		}
	}()
	var out []string
	for tries := 0; len(out) < n && tries < 1000; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			l.Close()
			continue
		}
		held = append(held, l.Close, u.Close)
		out = append(out, strconv.Itoa(port))
	}
	if len(out) < n {
		return fmt.Errorf("found only %d free ports", len(out))
	}
	fmt.Println(strings.Join(out, " "))
	return nil
}
