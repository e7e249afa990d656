package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"
)

// tapsink is a dnstap receiver on a unix socket, as a collector would run next to the
// resolver: it decodes every frame and counts the client responses. On SIGTERM or SIGINT,
// or after -max, it writes "frames responses" to -out and exits.
func tapsink(args []string) error {
	fs := flag.NewFlagSet("tapsink", flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path to listen on")
	out := fs.String("out", "", "file for the counts (default stdout)")
	max := fs.Duration("max", time.Hour, "exit after this long at most")
	fs.Parse(args)
	if *socket == "" {
		return fmt.Errorf("-socket is required")
	}
	in, err := dnstap.NewFrameStreamSockInputFromPath(*socket)
	if err != nil {
		return err
	}
	in.SetTimeout(0)
	frames := make(chan []byte, 4096)
	go in.ReadInto(frames)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	deadline := time.After(*max)
	var nframes, responses, bad int64
	var m dnstap.Dnstap
loop:
	for {
		select {
		case f := <-frames:
			nframes++
			if err := proto.Unmarshal(f, &m); err != nil {
				bad++
				continue
			}
			if m.GetMessage().GetType() == dnstap.Message_CLIENT_RESPONSE {
				responses++
			}
		case <-sig:
			break loop
		case <-deadline:
			break loop
		}
	}
	// What is already in the channel was received too.
	for len(frames) > 0 {
		f := <-frames
		nframes++
		if proto.Unmarshal(f, &m) == nil && m.GetMessage().GetType() == dnstap.Message_CLIENT_RESPONSE {
			responses++
		}
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "tapsink: %d frames did not decode\n", bad)
	}
	line := fmt.Sprintf("%d %d\n", nframes, responses)
	if *out == "" {
		_, err = os.Stdout.WriteString(line)
		return err
	}
	return os.WriteFile(*out, []byte(line), 0o644)
}
