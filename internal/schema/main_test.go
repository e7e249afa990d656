package schema_test

import (
	"os"
	"testing"

	"github.com/passivedns/passivedns/internal/chtest"
)

// legacyServer is the 18.16 server of the tests that need one (the upgrade claim); the
// others run on chDB or on nothing.
var legacyServer chtest.Lazy

func TestMain(m *testing.M) { os.Exit(legacyServer.Main(m)) }
