package schema

import "time"

// SetStaleClaim makes claims older than d stale until the test ends.
func SetStaleClaim(d time.Duration) (restore func()) {
	was := staleClaim
	staleClaim = d
	return func() { staleClaim = was }
}

// ClaimedByOther is claimedByOther, for the error texts of ClickHouse 26.x.
var ClaimedByOther = claimedByOther

// ReadClaim is readClaim.
var ReadClaim = readClaim
