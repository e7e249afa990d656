//go:build !race

package nativeblock

const raceEnabled = false
