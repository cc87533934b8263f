// Package audit keeps a tamper-evident audit trail: who did what, which
// access was denied, which policy or rule set was changed.
//
// # Usage
//
//	store, err := audit.OpenFile("/var/lib/app/audit.log") // or audit.NewJournalStore(j)
//	log, err := audit.New(store, &audit.Options{Key: signingKey, Trail: trailID, Anchor: &kept})
//	err = log.Append(audit.Record{Kind: audit.Decision, User: "alice", Op: "subscribe", Reason: "no grant"})
//	log.Enqueue(rec) // from a goroutine that must not wait for the disk
//	...
//	err = log.Close(ctx) // a final signed checkpoint
//	kept = log.Head()    // keep it outside the trail, with log.Trail()
//
//	report, err := audit.VerifyFile(path, publicKey, &audit.VerifyOptions{Trail: trailID, Anchor: &kept})
//
// # How it is protected
//
// Every [Record] carries the SHA-256 of the record before it, so changing,
// removing or reordering a record breaks the chain at the next one; the
// sequence numbers leave no room for a gap. A trail starts with an Open
// record naming its identity, a random [TrailID] fixed at creation. Every
// CheckpointEvery records, on [Log.Checkpoint] and on [Log.Close], a
// checkpoint record is signed with ed25519; a signature covers every byte
// of its record (sequence number, time, user, reason, the previous hash…)
// and the trail's identity, so whoever can write the file but not sign
// cannot forge records that verify, rewrite a checkpoint's fields, or pass
// off another trail signed by the same key as this one (give
// VerifyOptions.Trail). [Verify] and [VerifyFile] report the first record
// where the trail is not intact as a *[VerifyError].
//
// One attack the chain alone cannot see: cutting the trail back exactly to
// an earlier checkpoint leaves a shorter trail that is valid on its own.
// Keep the chain head ([Log.Head]) somewhere else and pass it as
// VerifyOptions.Anchor (and Options.Anchor); the tests tamper with a
// stored trail by flipping every byte of a record and of the final
// checkpoint, deleting and swapping records, truncating at every byte,
// appending forged records, swapping in a trail signed by the same key,
// and every case is detected.
//
// # Restarts
//
// [New] verifies the stored trail whole before it appends anything: a
// trail this key did not sign, of another identity than Options.Trail, or
// without Options.Anchor is refused with the *[VerifyError]. Records
// after the last signed one (forged while the process was stopped, or
// left by a crash before a checkpoint) are never signed by the next run:
// New refuses them with an *[UnsignedTailError], or, with
// Options.QuarantineUnsignedTail, appends a signed Quarantine record that
// says which records are not vouched for ([Report].Quarantined).
//
// A kill or a power loss can also tear the last write, leaving bytes
// after the last signed record that are not whole records of the trail.
// New treats such a damaged end, when no record signed for the trail
// follows it, as part of the unsigned tail: the *[UnsignedTailError] says
// where it starts (Damaged), and with QuarantineUnsignedTail a store that
// is a [TailCutter] (a [FileStore] is: it moves the bytes to
// path.damaged-<offset>, fsynced) cuts it off before the Quarantine record,
// which names where the bytes went. A damaged record that a signed record
// follows, or that lies before Options.Anchor, is refused with the
// *[VerifyError] and nothing is cut.
//
// # Durability
//
// A record is durable once a Sync of the store returned after it: when
// New, [Log.Checkpoint], [Log.Close] or an Append that wrote the
// CheckpointEvery-th checkpoint returns. A [FileStore] flushes and fsyncs
// its file on Sync and fsyncs the file's directory when it opens it, so
// what was acknowledged survives a kill or a power loss; records written
// after the last Sync may be lost or torn, and the restart above handles
// them. TestFileStoreCrashCampaign checks this over
// journaltest.CrashFS (OpenFileFS takes any journal.FS): 240 kill,
// power-loss and torn-write images with every acknowledged record kept
// (SEMEVENT_SOAK=1 runs 20,000).
//
// # Writing off the hot path
//
// [Log.Append] returns once the store has the record (a checkpoint
// syncs it). [Log.Enqueue] hands the record to the Log's writer goroutine
// and never waits: its queue holds Options.QueueSize records, a record
// that does not fit is dropped and counted ([Stats].Dropped), and the
// next record written says how many were lost. [Log.Flush] waits for the
// queue; [Log.Close] writes it out before the final checkpoint.
//
// # Concurrency
//
// A [Log]'s methods may be called concurrently. A Store belongs to one Log.
//
// # Errors
//
// *semevent.OptionsError from New without a key; [ErrKeySize] from Verify and
// VerifyFile for a public key that is not 32 bytes; after a store failure
// every Append returns an error wrapping [ErrFailed] (nothing more is
// recorded, so no gap can hide); *[DecodeError] for bytes that are not a
// record (varints must be minimal); *[VerifyError] for a broken trail;
// *[UnsignedTailError] (wrapping [ErrUnsignedTail], and its Damaged
// *[VerifyError] when the end was torn) from New.
package audit
