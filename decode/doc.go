// Package decode turns frames into packets and packets into exchanges: ICMP
// echoes, TCP connection attempts, ARP and neighbour resolutions, with the
// ICMP errors that quote them. It also prints packets the way tcpdump does.
//
// The per-packet path reuses one gopacket DecodingLayerParser per link type
// and allocates nothing; only what an exchange keeps is copied.
package decode
