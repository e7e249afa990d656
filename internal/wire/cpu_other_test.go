//go:build !unix

package wire

func cpuTime() int64 { return 0 }
