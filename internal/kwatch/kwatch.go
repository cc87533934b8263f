// Package kwatch decodes the records the Linux kernel's file watchers
// return from read(2): fanotify event metadata with its information
// records (file handles and names), and inotify events. It does no I/O;
// the fusebridge kernel watcher reads the descriptors and passes the bytes
// here. Every decoder returns a *[Error] for malformed input, never
// panics, and never reads past the buffer.
package kwatch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every *Error the decoders return.
var ErrMalformed = errors.New("kwatch: malformed record")

// Error reports malformed input: which record type, the byte offset in the
// buffer and what was wrong.
type Error struct {
	Record string // "fanotify" or "inotify"
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("kwatch: malformed %s record at byte %d: %s", e.Record, e.Offset, e.Msg)
}

// Unwrap returns [ErrMalformed].
func (e *Error) Unwrap() error { return ErrMalformed }

// fanotify constants (linux/fanotify.h), kept here so that decoding needs
// no syscall package.
const (
	MetadataVersion = 3  // FANOTIFY_METADATA_VERSION
	metadataLen     = 24 // sizeof(struct fanotify_event_metadata)

	InfoFID         = 1  // FAN_EVENT_INFO_TYPE_FID
	InfoDFIDName    = 2  // FAN_EVENT_INFO_TYPE_DFID_NAME
	InfoDFID        = 3  // FAN_EVENT_INFO_TYPE_DFID
	InfoPIDFD       = 4  // FAN_EVENT_INFO_TYPE_PIDFD
	InfoError       = 5  // FAN_EVENT_INFO_TYPE_ERROR
	InfoRange       = 6  // FAN_EVENT_INFO_TYPE_RANGE
	InfoMnt         = 7  // FAN_EVENT_INFO_TYPE_MNT
	InfoOldDFIDName = 10 // FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
	InfoNewDFIDName = 12 // FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
)

// FanEvent is one decoded fanotify event.
type FanEvent struct {
	Mask  uint64
	FD    int32 // -1 (FAN_NOFD) in FID mode
	PID   int32
	Infos []FanInfo
}

// FanInfo is one information record of a fanotify event. For the FID and
// DFID types Handle is the object's file handle; the DFID_NAME types add
// the entry's Name in that directory.
type FanInfo struct {
	Type       uint8
	FSID       [2]int32
	HandleType int32
	Handle     []byte // aliases the input buffer
	Name       string
}

// Key returns the handle type and bytes as a map key.
func (i *FanInfo) Key() string {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(i.HandleType))
	return string(b[:]) + string(i.Handle)
}

// Info returns the first record of type t, or nil.
func (e *FanEvent) Info(t uint8) *FanInfo {
	for i := range e.Infos {
		if e.Infos[i].Type == t {
			return &e.Infos[i]
		}
	}
	return nil
}

// NextFanotify decodes the event at the start of buf and returns it with
// the bytes after it. The Infos slice is appended to infos[:0], so a caller
// can reuse it; handles alias buf.
func NextFanotify(buf []byte, base int, infos []FanInfo) (FanEvent, []byte, error) {
	fail := func(off int, format string, args ...any) (FanEvent, []byte, error) {
		return FanEvent{}, nil, &Error{Record: "fanotify", Offset: base + off, Msg: fmt.Sprintf(format, args...)}
	}
	if len(buf) < metadataLen {
		return fail(0, "%d bytes, a header needs %d", len(buf), metadataLen)
	}
	ne := binary.NativeEndian
	evLen := int(ne.Uint32(buf[0:]))
	vers := buf[4]
	mdLen := int(ne.Uint16(buf[6:]))
	if vers != MetadataVersion {
		return fail(4, "metadata version %d, want %d", vers, MetadataVersion)
	}
	if mdLen < metadataLen || mdLen > evLen {
		return fail(6, "metadata length %d outside %d..%d", mdLen, metadataLen, evLen)
	}
	if evLen > len(buf) {
		return fail(0, "event length %d past the %d bytes left", evLen, len(buf))
	}
	ev := FanEvent{
		Mask:  ne.Uint64(buf[8:]),
		FD:    int32(ne.Uint32(buf[16:])),
		PID:   int32(ne.Uint32(buf[20:])),
		Infos: infos[:0],
	}
	for off := mdLen; off < evLen; {
		if evLen-off < 4 {
			return fail(off, "%d bytes left, an info header needs 4", evLen-off)
		}
		typ := buf[off]
		ilen := int(ne.Uint16(buf[off+2:]))
		if ilen < 4 || off+ilen > evLen {
			return fail(off+2, "info length %d outside 4..%d", ilen, evLen-off)
		}
		rec := buf[off : off+ilen]
		info := FanInfo{Type: typ}
		switch typ {
		case InfoFID, InfoDFID, InfoDFIDName, InfoOldDFIDName, InfoNewDFIDName:
			// header(4) fsid(8) handle_bytes(4) handle_type(4) f_handle[] [name\0]
			if len(rec) < 20 {
				return fail(off, "file-handle record of %d bytes, want at least 20", len(rec))
			}
			info.FSID[0] = int32(ne.Uint32(rec[4:]))
			info.FSID[1] = int32(ne.Uint32(rec[8:]))
			hb := int(ne.Uint32(rec[12:]))
			info.HandleType = int32(ne.Uint32(rec[16:]))
			if hb > len(rec)-20 {
				return fail(off+12, "handle of %d bytes past the record's %d", hb, len(rec)-20)
			}
			info.Handle = rec[20 : 20+hb]
			if typ == InfoDFIDName || typ == InfoOldDFIDName || typ == InfoNewDFIDName {
				name := rec[20+hb:]
				end := 0
				for end < len(name) && name[end] != 0 {
					end++
				}
				if end == len(name) {
					return fail(off+20+hb, "name without a terminating NUL")
				}
				info.Name = string(name[:end])
			}
		default:
			// PIDFD, ERROR, RANGE, MNT and unknown types: skipped by length.
		}
		ev.Infos = append(ev.Infos, info)
		off += ilen
	}
	return ev, buf[evLen:], nil
}

// InEvent is one decoded inotify event.
type InEvent struct {
	WD     int32
	Mask   uint32
	Cookie uint32
	Name   string
}

const inotifyHeader = 16 // sizeof(struct inotify_event)

// NextInotify decodes the event at the start of buf and returns it with
// the bytes after it.
func NextInotify(buf []byte, base int) (InEvent, []byte, error) {
	fail := func(off int, format string, args ...any) (InEvent, []byte, error) {
		return InEvent{}, nil, &Error{Record: "inotify", Offset: base + off, Msg: fmt.Sprintf(format, args...)}
	}
	if len(buf) < inotifyHeader {
		return fail(0, "%d bytes, a header needs %d", len(buf), inotifyHeader)
	}
	ne := binary.NativeEndian
	ev := InEvent{
		WD:     int32(ne.Uint32(buf[0:])),
		Mask:   ne.Uint32(buf[4:]),
		Cookie: ne.Uint32(buf[8:]),
	}
	n := ne.Uint32(buf[12:])
	if uint64(n) > uint64(len(buf)-inotifyHeader) {
		return fail(12, "name length %d past the %d bytes left", n, len(buf)-inotifyHeader)
	}
	name := buf[inotifyHeader : inotifyHeader+int(n)]
	end := 0
	for end < len(name) && name[end] != 0 {
		end++
	}
	ev.Name = string(name[:end])
	return ev, buf[inotifyHeader+int(n):], nil
}
