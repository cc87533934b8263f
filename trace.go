package semevent

import (
	"encoding/hex"
)

// TraceID is a W3C trace-context trace id.
type TraceID [16]byte

// SpanID is a W3C trace-context parent (span) id.
type SpanID [8]byte

// TraceFlags are the W3C trace-context flags; bit 0 is "sampled".
type TraceFlags uint8

// FlagSampled is the W3C "sampled" flag.
const FlagSampled TraceFlags = 0x01

// IsZero reports whether t is all zero bytes (invalid as a trace id).
func (t TraceID) IsZero() bool { return t == TraceID{} }

// String returns 32 lower-case hex digits.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// IsZero reports whether s is all zero bytes (invalid as a span id).
func (s SpanID) IsZero() bool { return s == SpanID{} }

// String returns 16 lower-case hex digits.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// TraceContext is the W3C trace context an event carries across every hop
// unchanged: which trace it belongs to, the span that produced it, and flags.
type TraceContext struct {
	TraceID TraceID
	SpanID  SpanID
	Flags   TraceFlags
}

// IsValid reports whether tc has a non-zero trace id and span id.
func (tc TraceContext) IsValid() bool { return !tc.TraceID.IsZero() && !tc.SpanID.IsZero() }

// Sampled reports whether the sampled flag is set.
func (tc TraceContext) Sampled() bool { return tc.Flags&FlagSampled != 0 }

// String returns the traceparent header value, version 00:
// "00-<trace id>-<span id>-<flags>".
func (tc TraceContext) String() string {
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], tc.TraceID[:])
	b[35] = '-'
	hex.Encode(b[36:52], tc.SpanID[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(tc.Flags)})
	return string(b[:])
}

// ParseTraceParent parses a W3C traceparent header value. It accepts version
// 00 exactly (55 bytes) and, as the specification asks, later versions whose
// first 55 bytes have the version-00 layout followed by "-" or nothing. Hex
// must be lower case; an all-zero trace id or span id is rejected. Errors are
// *[ParseError] with the byte position.
func ParseTraceParent(s string) (TraceContext, error) {
	fail := func(pos int, msg string) (TraceContext, error) {
		return TraceContext{}, &ParseError{Type: "TraceContext", Input: s, Pos: pos, Msg: msg}
	}
	if len(s) < 55 {
		return fail(len(s), "traceparent is shorter than 55 bytes")
	}
	var ver [1]byte
	if pos, ok := decodeHex(ver[:], s[0:2]); !ok {
		return fail(pos, "version is not lower-case hex")
	}
	switch {
	case ver[0] == 0xff:
		return fail(0, "version ff is invalid")
	case ver[0] == 0 && len(s) != 55:
		return fail(55, "version 00 traceparent must be exactly 55 bytes")
	case len(s) > 55 && s[55] != '-':
		return fail(55, "want '-' after the flags")
	}
	for _, p := range [...]int{2, 35, 52} {
		if s[p] != '-' {
			return fail(p, "want '-'")
		}
	}
	var tc TraceContext
	if pos, ok := decodeHex(tc.TraceID[:], s[3:35]); !ok {
		return fail(3+pos, "trace id is not lower-case hex")
	}
	if pos, ok := decodeHex(tc.SpanID[:], s[36:52]); !ok {
		return fail(36+pos, "span id is not lower-case hex")
	}
	var fl [1]byte
	if pos, ok := decodeHex(fl[:], s[53:55]); !ok {
		return fail(53+pos, "flags are not lower-case hex")
	}
	tc.Flags = TraceFlags(fl[0])
	if tc.TraceID.IsZero() {
		return fail(3, "trace id is all zeros")
	}
	if tc.SpanID.IsZero() {
		return fail(36, "span id is all zeros")
	}
	return tc, nil
}
