package semevent

import (
	"math/bits"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// Key names what an event concerns — one file, one process, one tenant —
// and is the one key type every keyed structure of semevent uses: dedup,
// shard placement, CEP partitions, workflow correlation, window groups,
// rate limits and routing's consistent-hash groups.
//
// A Key always carries the event's tenant, so state keyed by it never mixes
// tenants, whatever the [KeyFunc]: two events of different tenants never
// share a Key. S names a string entity (a path); N a numeric one (a PID), so
// that keying by number does not allocate.
type Key struct {
	Tenant string
	S      string
	N      uint64
}

// KeyFunc returns the key of an event. It must be deterministic and safe
// for concurrent use, and it should copy ev.Tenant into the key (every
// KeyFunc of this package does); keyed structures scope keys by tenant
// themselves as well.
type KeyFunc func(ev *Event) Key

// PathKey keys an event by its tenant and path: the default key everywhere.
func PathKey(ev *Event) Key { return Key{Tenant: ev.Tenant, S: ev.Path} }

// PIDKey keys an event by its tenant and the process that caused it.
func PIDKey(ev *Event) Key { return Key{Tenant: ev.Tenant, N: uint64(ev.PID)} }

// TenantKey keys an event by its tenant alone.
func TenantKey(ev *Event) Key { return Key{Tenant: ev.Tenant} }

// Hash returns a 64-bit hash of k that is the same in every process, on
// every platform and in every version of this module: shard placement and
// consistent hashing depend on it. It does not allocate.
//
// Hash is xxHash64 of Tenant and of S, combined with N by a fixed mix; the
// components are length-separated, so ("ab", "c") and ("a", "bc") differ.
func (k Key) Hash() uint64 {
	const (
		p1 = 0x9E3779B185EBCA87
		p2 = 0xC2B2AE3D27D4EB4F
	)
	h := xxhash.Sum64String(k.Tenant) ^ uint64(len(k.Tenant))*p2
	h = bits.RotateLeft64(h*p1, 31) ^ xxhash.Sum64String(k.S) ^ uint64(len(k.S))*p1
	h = bits.RotateLeft64(h*p2, 27) ^ k.N*p1
	// fmix64 from MurmurHash3: every input bit affects every output bit.
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	h ^= h >> 33
	return h
}

// String returns the key as text: S, N in decimal, or "S#N", prefixed by
// "Tenant/" when the tenant is set.
func (k Key) String() string {
	var s string
	switch {
	case k.N == 0:
		s = k.S
	case k.S == "":
		s = strconv.FormatUint(k.N, 10)
	default:
		s = k.S + "#" + strconv.FormatUint(k.N, 10)
	}
	if k.Tenant != "" {
		return k.Tenant + "/" + s
	}
	return s
}
