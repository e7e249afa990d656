// Package libcheck stops a test binary with a clear message when libchdb.so is missing.
//
// chdb-go opens libchdb.so in an init function and, when it is missing, panics with a bare
// dlopen error before any test runs. Go initializes packages in import-path order among
// those whose imports are initialized (Go spec, "Package initialization", since Go 1.21).
// This package imports only packages that os/exec imports itself, so it is ready no later than
// os/exec, which chdb-go needs; its path sorts first, so its init runs before chdb-go's and
// can say what to do instead. Keep it that way: no fmt, no os/exec.
// If that ever changes, the failure is still a failure, only with the bare dlopen panic.
package libcheck

import (
	"os"
	"path/filepath"
)

// DefaultPath is where scripts/deps.sh installs the library and chdb-go looks for it.
const DefaultPath = "/usr/local/lib/libchdb.so"

// Path returns the library chdb-go will load, following chdb-go v1.11.0's findLibrary:
// $CHDB_LIB_PATH, then an executable libchdb.so on $PATH, then DefaultPath. It reports false
// when there is none.
func Path() (string, bool) {
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return p, isFile(p)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		if p := filepath.Join(dir, "libchdb.so"); isFile(p) {
			return p, true
		}
	}
	return DefaultPath, isFile(DefaultPath)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func init() {
	if p, ok := Path(); !ok {
		os.Stderr.WriteString("FAIL: libchdb.so not found at " + p + ": the ClickHouse 26.x compatibility tests need it.\n" +
			"Run scripts/deps.sh (it installs " + DefaultPath + " from the npm package @chdb/lib-linux-x64-gnu),\n" +
			"or set CHDB_LIB_PATH to a libchdb.so.\n")
		os.Exit(1)
	}
}
