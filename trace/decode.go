package trace

import "encoding/binary"

// Link-layer header types (LINKTYPE_* values as stored in pcap and pcapng
// files; 12 and 14 are the DLT_RAW values some BSDs write).
const (
	LinkNull     = 0   // BSD loopback: 4-byte address family in the capturing host's byte order
	LinkEthernet = 1   // Ethernet II, with any number of 802.1Q / 802.1ad tags
	LinkRawBSD12 = 12  // raw IP (DLT_RAW on OpenBSD)
	LinkRawBSD14 = 14  // raw IP (DLT_RAW on BSD/OS)
	LinkRaw      = 101 // raw IP, version from the first nibble
	LinkLoop     = 108 // OpenBSD loopback: address family in network byte order
	LinkLinuxSLL = 113 // Linux cooked capture v1
	LinkIPv4     = 228 // raw IPv4
	LinkIPv6     = 229 // raw IPv6
	LinkSLL2     = 276 // Linux cooked capture v2
)

// Skip reasons used by the packet readers.
const (
	ReasonIPv6           = "ipv6"
	ReasonARP            = "arp"
	ReasonNonIP          = "non-ip"
	ReasonTruncatedLink  = "truncated-link"
	ReasonTruncatedIP    = "truncated-ip"
	ReasonTruncatedL4    = "truncated-l4"
	ReasonBadIPHeader    = "bad-ip-header"
	ReasonUnsupportedLnk = "unsupported-linktype"
	// ReasonTruncatedRecord counts the record or block a capture ends in the
	// middle of, with Options.SkipBad (the records before it are read).
	ReasonTruncatedRecord = "truncated-record"
	NoteFragment          = "fragment"
)

// decodeFrame fills p's header fields (all but TS) from a captured frame of
// link type lt. It returns "" when p now holds an IPv4 packet, else the
// reason the frame is skipped. frag reports a non-first fragment of a
// protocol that would have ports (returned with ports 0).
func decodeFrame(lt uint32, b []byte, p *Packet) (reason string, frag bool) {
	switch lt {
	case LinkEthernet:
		if len(b) < 14 {
			return ReasonTruncatedLink, false
		}
		return decodeEtherType(binary.BigEndian.Uint16(b[12:]), b[14:], p)
	case LinkRaw, LinkRawBSD12, LinkRawBSD14, LinkIPv4:
		if len(b) < 1 {
			return ReasonTruncatedIP, false
		}
		switch b[0] >> 4 {
		case 4:
			return decodeIPv4(b, p)
		case 6:
			return ReasonIPv6, false
		}
		return ReasonNonIP, false
	case LinkIPv6:
		return ReasonIPv6, false
	case LinkNull, LinkLoop:
		if len(b) < 4 {
			return ReasonTruncatedLink, false
		}
		// The family is in the capturing host's byte order; families are
		// small numbers, so the order shows in which end is zero.
		fam := binary.LittleEndian.Uint32(b)
		if fam > 0xffff {
			fam = binary.BigEndian.Uint32(b)
		}
		switch fam {
		case 2: // AF_INET everywhere
			return decodeIPv4(b[4:], p)
		case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			return ReasonIPv6, false
		}
		return ReasonNonIP, false
	case LinkLinuxSLL:
		if len(b) < 16 {
			return ReasonTruncatedLink, false
		}
		return decodeEtherType(binary.BigEndian.Uint16(b[14:]), b[16:], p)
	case LinkSLL2:
		if len(b) < 20 {
			return ReasonTruncatedLink, false
		}
		return decodeEtherType(binary.BigEndian.Uint16(b[0:]), b[20:], p)
	}
	return ReasonUnsupportedLnk, false
}

// decodeEtherType decodes the payload b of an EtherType et, looking through
// 802.1Q (0x8100), 802.1ad (0x88a8) and old QinQ (0x9100) tags and MPLS
// label stacks.
func decodeEtherType(et uint16, b []byte, p *Packet) (string, bool) {
	for et == 0x8100 || et == 0x88a8 || et == 0x9100 {
		if len(b) < 4 {
			return ReasonTruncatedLink, false
		}
		et = binary.BigEndian.Uint16(b[2:])
		b = b[4:]
	}
	switch et {
	case 0x0800:
		return decodeIPv4(b, p)
	case 0x86dd:
		return ReasonIPv6, false
	case 0x0806:
		return ReasonARP, false
	case 0x8847, 0x8848: // MPLS unicast, multicast
		return decodeMPLS(b, p)
	}
	return ReasonNonIP, false
}

// decodeMPLS looks through an MPLS label stack for an IP packet right
// below it. Anything else (a pseudowire carrying Ethernet, say) is non-ip.
func decodeMPLS(b []byte, p *Packet) (string, bool) {
	for {
		if len(b) < 4 {
			return ReasonTruncatedLink, false
		}
		bottom := b[2]&1 != 0
		b = b[4:]
		if bottom {
			break
		}
	}
	if len(b) < 1 {
		return ReasonTruncatedIP, false
	}
	switch b[0] >> 4 {
	case 4:
		return decodeIPv4(b, p)
	case 6:
		return ReasonIPv6, false
	}
	return ReasonNonIP, false
}

// decodeIPv4 fills p from an IPv4 header and the start of its transport
// header.
func decodeIPv4(b []byte, p *Packet) (string, bool) {
	if len(b) < 20 {
		return ReasonTruncatedIP, false
	}
	vihl := b[0]
	hl := int(vihl&0x0f) * 4
	if vihl>>4 != 4 || hl < 20 {
		return ReasonBadIPHeader, false
	}
	fo := binary.BigEndian.Uint16(b[6:])
	p.TOS = b[1]
	p.Len = binary.BigEndian.Uint16(b[2:])
	p.ID = binary.BigEndian.Uint16(b[4:])
	p.Flags = uint8(fo >> 13)
	p.FragOff = fo & 0x1fff
	p.TTL = b[8]
	p.Proto = b[9]
	p.Src = binary.BigEndian.Uint32(b[12:])
	p.Dst = binary.BigEndian.Uint32(b[16:])
	p.SrcPort, p.DstPort, p.TCPFlags = 0, 0, 0
	switch p.Proto {
	case ProtoTCP, ProtoUDP, ProtoICMP:
	default:
		return "", false
	}
	if p.FragOff != 0 {
		return "", true
	}
	if len(b) < hl {
		return ReasonTruncatedL4, false
	}
	l4 := b[hl:]
	switch p.Proto {
	case ProtoTCP:
		if len(l4) < 14 {
			return ReasonTruncatedL4, false
		}
		p.SrcPort = binary.BigEndian.Uint16(l4)
		p.DstPort = binary.BigEndian.Uint16(l4[2:])
		p.TCPFlags = l4[13]
	case ProtoUDP:
		if len(l4) < 4 {
			return ReasonTruncatedL4, false
		}
		p.SrcPort = binary.BigEndian.Uint16(l4)
		p.DstPort = binary.BigEndian.Uint16(l4[2:])
	case ProtoICMP:
		if len(l4) < 2 {
			return ReasonTruncatedL4, false
		}
		p.DstPort = uint16(l4[0])<<8 | uint16(l4[1])
	}
	return "", false
}
