// Package clientnet says what a client counts as wherever the service limits
// clients one by one (connections, rate limits, audit throttles): its
// address, and for IPv6 that address's /64.
//
// A /64 is what one IPv6 host is given (SLAAC, privacy addresses, a
// provider's delegation), and the host may draw a fresh address from it for
// every connection or request; counted by address, one host would be as many
// clients as it likes. An IPv4-mapped IPv6 address is an IPv4 client and
// counts as that IPv4 address, whichever form a listener reports it in.
package clientnet

import "net/netip"

// Of returns what a client at addr counts as; "" for the zero Addr.
func Of(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	if !addr.Is6() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return addr.String()
	}
	return p.String()
}

// OfHost is Of for a textual host (an IP address without a port); a host
// that is not an IP address counts as itself.
func OfHost(host string) string {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	return Of(addr)
}
