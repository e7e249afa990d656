//go:build unix

package wire

import "syscall"

// cpuTime is the process's CPU time (user and system, garbage collection
// included): a cost that waiting for a shared core does not inflate.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
