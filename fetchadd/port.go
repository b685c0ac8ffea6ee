package fetchadd

// DefaultPort is the protocol's port: that of the echo server in the
// Python documentation's socket example, which the lab starts from.
const DefaultPort = 50007

// DefaultAddr is where the server listens, and the client connects,
// unless told otherwise: loopback only, so a lab machine does not serve
// its whole network by surprise. Its port is DefaultPort.
const DefaultAddr = "127.0.0.1:50007"
