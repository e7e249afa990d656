package nativeblock

import (
	"os"
	"testing"

	"github.com/passivedns/passivedns/internal/chtest"
)

var testCH *chtest.Server

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &testCH)) }
