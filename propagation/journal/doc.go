// Package journal is semevent's durable semantic journal: an append-only,
// segmented log of [semevent.Event] values on local disk, with group
// commit, replay from any retained offset, live tailing, durable consumers,
// retention, crash recovery and optional encryption at rest.
//
// # Usage
//
//	j, err := journal.Open(dir, nil) // SyncAlways, 64 MiB segments
//	if err != nil {
//		return err
//	}
//	defer j.Close(ctx)
//
//	off, err := j.Append(ctx, ev) // returns after the fsync that covers ev
//
//	// Replay from an offset, then follow new records until ctx ends.
//	err = j.Tail(ctx, from, func(off uint64, ev *semevent.Event) error {
//		return handle(ev)
//	})
//
//	// Or read at your own pace; io.EOF means "caught up for now".
//	r, err := j.NewReader(from)
//	var ev semevent.Event
//	for {
//		off, err := r.Next(&ev)
//		...
//	}
//
//	// A durable consumer resumes after its last committed offset.
//	err = j.Consume(ctx, "indexer", fn)
//
// Records get consecutive offsets from 0 ([Options.FirstOffset] starts a
// new journal elsewhere: TestFirstOffsetNewJournal). [Journal.Append] and
// [Journal.AppendBatch] validate each event ([semevent.Event.Validate]:
// an invalid one fails the whole batch with a *[semevent.EventError]) and
// stamp a missing ID ([Options.Node]) and Time, as the bus does; they
// return once the record is committed under [Options.Sync]:
//
//   - [SyncAlways] (the default): written and fsynced. Concurrent appenders
//     share one write and one fsync (group commit): one appender leads,
//     the others wait for its fsync.
//   - [SyncInterval](d): buffered; written every d (and whenever
//     [Options.BufferSize] bytes wait), and fsynced right after each
//     periodic write by a goroutine of its own. Writing never waits for
//     an fsync in progress, so a killed process loses at most the records
//     acknowledged in the last d plus one write's time plus however long
//     the operating system takes to run the journal's goroutine once its
//     timer fires; a power loss at most those plus what the fsync in
//     progress covers (the disk's fsync latency). Tested with held fsyncs
//     and an injected clock (TestSyncIntervalWritesDuringSlowFsync,
//     TestSyncIntervalLossBoundInjectedClock). On a 2-core machine at load
//     average ~28, SIGKILLs with d = 20ms lost acknowledgements at most
//     52ms old (TestSyncIntervalKillLossAge, which reports and does not
//     assert): the scheduling term is the machine's, not the journal's.
//   - [SyncNever]: buffered, written every [Options.FlushInterval],
//     fsynced only at segment rollover, [Journal.Sync] and [Journal.Close].
//     [Journal.Flush] writes buffered records out (readable, not fsynced)
//     at once (TestFlushMakesRecordsReadable).
//
// # Record metadata
//
// With [Options.MetaSize] = n (1 to [MaxMetaSize]), every record carries n
// bytes of metadata beside its event, for the caller's own bookkeeping
// (coord/raft stores the Raft index, origin node and position of each
// event there). [Journal.AppendBatchMeta] gives every record of a batch a
// copy of its meta; [Journal.Append] and [Journal.AppendBatch] give zeros;
// meta of another length appends nothing and returns a *[MetaSizeError]
// (wrapping [ErrMetaSize]). [Reader.Meta] returns the meta of the record
// the last Next returned, and [Journal.TailMeta] hands it to its function.
// The meta is covered by the record's CRC and, in an encrypted journal,
// authenticated as the AES-GCM additional data (stored in plaintext).
// Appending and reading meta allocate nothing per record
// (TestMetaAppendReadNoAllocs).
//
// Each segment records its own meta size, so a journal reopened with a
// different MetaSize keeps its old segments as they are and reads each
// record with the meta it was written with (nil for records of segments
// without metadata, such as those written before MetaSize existed); the
// next record starts a new segment with the new size
// (TestMetaReopenOtherSize). Torn tails, bit flips, tampering, SIGKILL and
// power-loss campaigns, the sparse index and retention are tested with meta
// segments as without (TestTornTailEveryByte, TestBitFlipDetected,
// TestMetaTamperDetected, TestCrash, TestCrashCampaign,
// TestMetaIndexAndRetention), and committed journals with metadata
// (testdata/v2-meta-*) must keep decoding (TestVersion2MetaGolden).
//
// Readers see a record once it is committed: after its fsync under
// SyncAlways, once written to the operating system otherwise. After a
// restart, readers see only durable records: Open fsyncs what a killed
// process left in the last segment before serving it or appending to it. A reader
// starting mid-segment jumps to the nearest of a sparse in-memory index
// (every 1024th record) instead of scanning from the segment's start.
// [Journal.Stats] counts records, group writes, fsyncs, bytes and segments.
//
// # Guarantees, as tested
//
//   - Every field of an event, context included (trace, cause, attributes,
//     observations, payload), survives a round trip; semevent.Diff reports
//     no difference. The event encoding (internal/codec) is versioned and a
//     committed version-1 journal (testdata/) must keep decoding.
//   - Durability: with SyncAlways, every acknowledged record is present and
//     byte-identical after the process is killed with SIGKILL at random
//     moments (TestCrash: 24 kills of a plaintext journal and 8 of an
//     encrypted one per run; SEMEVENT_JOURNAL_CRASH_KILLS=N for a soak). A new segment is written under
//     a temporary name, fsynced, renamed and its directory fsynced before
//     anything in it is acknowledged.
//   - Torn tails: [Open] scans the last segment; a bad record with no valid
//     record after it (a write cut short, or tail sectors that read back as
//     zeros) is cut off, and [Journal.Recovery] reports where. Tested at
//     every byte position of the last record and with zero-filled 512-byte
//     sectors.
//   - Corruption is never served and never skipped: a record that fails
//     its CRC-32C, its framing, its offset sequence, its GCM authentication
//     or decoding is returned as a *[CorruptError] naming the segment file,
//     the byte position and the offset, and the [Reader] stops there. In the
//     last segment, a bad record followed by a valid one makes Open fail
//     with that error. Tested with random bit flips in records that are not
//     the tail. (A bad record in the last segment with nothing valid after
//     it is indistinguishable from a torn write and is cut as one.
//     Conversely, if a machine crash lets the later sectors of an
//     unacknowledged multi-record write reach the disk while an earlier one
//     does not, Open reports that gap as corruption rather than guess:
//     nothing acknowledged is lost, but Open fails until the segment is
//     repaired by hand.)
//   - Failures: after a failed write or fsync the journal acknowledges
//     nothing more; every Append, Sync and Close returns the same
//     *[WriteError] (wrapping [ErrFailed] and the cause, such as EIO or
//     ENOSPC). It never retries an fsync. Reopen to recover.
//   - Power loss: journaltest.CrashFS keeps only fsynced bytes and fsynced
//     directory entries after a simulated crash. Crash campaigns
//     (TestCrashCampaign: random appends under every sync policy, syncs,
//     consumer commits, kills, restarts and power losses, at least 200
//     crash images per run, 20,000 with SEMEVENT_SOAK=1) and
//     TestCrashCampaignConcurrent (images taken while three goroutines
//     append and a durable consumer commits: 40 per run, 3,000 with
//     SEMEVENT_SOAK=1) check that no acknowledged-durable record is lost
//     or changed, that a consumer's committed offset never goes back nor
//     past the journal's end, and that nothing is corrupt. The bus's
//     durable publish, automation's and the audit trail's JournalStore
//     have campaigns of their own on the same file system. Open fsyncs the journal directory
//     at creation (and the parents it created), consumers/ is fsynced into
//     the directory, and consumer offsets are written to a temporary file,
//     fsynced, renamed and the directory fsynced.
//   - Missing or cut segments are reported, never silent: a MANIFEST file
//     lists the segments (with the end offset and size of each sealed
//     one); Open fails with a *[CorruptError] when a listed segment is
//     missing (the first, a middle or the last one), when a sealed
//     segment's size differs, or when a segment does not end where the
//     next begins (checked from the records when the manifest does not
//     say). A journal without a MANIFEST (written by an older version) is
//     checked for continuity by scanning, and gets one.
//   - Segments do not multiply: a plaintext journal appends to its intact
//     last segment after a restart, and a rejected append
//     ([ErrTooLarge], an invalid event) never starts a segment. An
//     encrypted journal starts a new segment on the first write after
//     each Open, so a record nonce is never used twice under one key even
//     for a record that was written and then lost.
//   - No option deletes committed records: a smaller [Options.MaxRecordSize]
//     applies to new records only.
//   - Durable consumers never commit past the durable end: [Journal.Consume]
//     commits up to the last fsynced record, and [Journal.CommitOffset]
//     fsyncs the journal first when asked to commit beyond it.
//   - Open reads the last segment through a 1 MiB window, so a huge (or
//     sparse) last segment costs bounded memory (a 512 MiB sparse segment
//     is tested).
//
// # Encryption
//
// With [Options.Encryption], new segments are encrypted with AES-256-GCM
// under a key derived (HKDF-SHA256) from the key named by
// [Encryption.KeyID] and a random per-segment salt; the nonce is the
// record's offset. The segment header holds the key id and a key check, so
// a wrong key fails Open with a *[KeyError] wrapping [ErrWrongKey], and a
// key id not in [Encryption.Keys] with [ErrMissingKey]. To rotate, reopen
// with a new KeyID and keep old keys while their segments are retained.
// Encryption is required by default when keys are given: a plaintext
// segment in an encrypted journal fails Open with a *[CorruptError], so
// plaintext records cannot be injected; [Encryption.AllowPlaintext] reads
// plaintext segments written before encryption was turned on. Open copies
// the keys, so a caller may zero its key slices afterwards.
//
// What the files leak to someone without the key: event contents are
// encrypted and authenticated, but the following are not —
//   - segment file names, which are the base offsets (so the number of
//     records in each segment), and each segment's creation time;
//   - in each segment header, the base offset and the key id;
//   - each record's length (so the size of each event), its offset, its
//     metadata ([Options.MetaSize] bytes, authenticated but not
//     encrypted) and its CRC, and the file sizes and modification times
//     (so the rate of appends);
//   - the MANIFEST (segment list, end offsets and sizes);
//   - consumers/: the names of durable consumers and their committed
//     offsets (how far each has read), in plaintext;
//   - the LOCK file, whose presence says nothing more.
//
// # On disk
//
// A journal directory holds segment files named by their first offset
// (00000000000000000000.seg), a MANIFEST listing them, a LOCK file,
// consumers/NAME files with committed offsets, and an INSTANCE file
// holding the journal's random instance id (see [Journal.Instance]),
// created on first Open and fsynced. A segment is a header (magic "SEVJ", version u8,
// flags u8, meta size u16, base offset, creation time, key id, salt and key
// check when encrypted, CRC-32C) followed by records: length u32 (of the
// meta and the body), CRC-32C u32 (over length, offset, meta and body),
// offset u64, meta (the segment's meta size in bytes), body (the
// internal/codec encoding of the event, or its AES-GCM ciphertext, with
// the meta as additional data). Integers are little-endian.
//
// Version 1 segments have no metadata: the u16 (reserved before metadata
// existed) is zero and records have no meta bytes. Segments written with
// [Options.MetaSize] > 0 are version 2 and hold the meta size (1 to 64) in
// the u16. A journal without metadata still writes version-1 segments,
// byte for byte as before, so older binaries keep reading it; an older
// binary refuses a version-2 segment with "unknown version 2" rather than
// misreading it.
//
// # Concurrency
//
// All methods of [Journal] may be called concurrently. A [Reader] is for one
// goroutine. The function given to [Journal.Tail] or [Journal.Consume] is
// called from the calling goroutine, one record at a time, with a fresh
// event it may keep. Only one Journal may have a directory open at a time:
// Open fails with [ErrLocked] otherwise (flock, released if the process
// dies). With SyncInterval, SyncNever or RetentionAge, Open starts one
// background goroutine, which Close stops.
//
// # Errors
//
// Sentinels for errors.Is: [ErrClosed] (wraps semevent.ErrClosed),
// [ErrCorrupt], [ErrWrongKey], [ErrMissingKey], [ErrFailed],
// [ErrOutOfRange], [ErrLocked], [ErrTooLarge], [ErrMetaSize]. Typed errors for errors.As:
// *[CorruptError] (segment, byte position, offset, reason), *[KeyError]
// (segment, key id), *[WriteError] (operation, segment, cause),
// *[OffsetError] (offset and the retained range), *[MetaSizeError] (the
// journal's directory, the meta's length and MetaSize), *[semevent.OptionsError]
// (every invalid option, from [Options.Validate] and Open), and
// *[semevent.EventError] (an invalid event given to Append).
//
// # Testing
//
// Use a t.TempDir() directory: the journal is fast enough with real files.
// To test how code copes with a failing disk, pass journaltest.FaultFS as
// [Options.FS]: it fails writes or fsyncs with the error you choose, or
// holds fsyncs as a slow disk would. To test what survives a crash, pass
// journaltest.CrashFS: its Kill and PowerLoss methods return the file
// system as the next process finds it after SIGKILL or a power loss.
package journal
