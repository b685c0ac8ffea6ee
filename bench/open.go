package bench

import (
	"fetchadd/client"
	"fetchadd/poller"
)

// The two calls by which the load generator opens descriptors: a
// connection to the server (non-blocking, made within Config.Timeout),
// and a worker's poller (epoll or kqueue). They are variables so that a
// test can make any one of them fail and check that Run closes every
// descriptor the others opened.
var (
	dial      = client.DialWithin
	newPoller = poller.NewEvent
)
