// Package audit keeps a tamper-evident audit trail: who did what, which
// access was denied, which policy or rule set was changed.
//
// # Usage
//
//	store, err := audit.OpenFile("/var/lib/app/audit.log") // or audit.NewJournalStore(j)
//	log, err := audit.New(store, &audit.Options{Key: signingKey})
//	err = log.Append(audit.Record{Kind: audit.Decision, User: "alice", Op: "subscribe", Reason: "no grant"})
//	...
//	err = log.Close() // a final signed checkpoint
//
//	report, err := audit.VerifyFile(path, publicKey, &audit.VerifyOptions{Anchor: &kept})
//
// # How it is protected
//
// Every [Record] carries the SHA-256 of the record before it, so changing,
// removing or reordering a record breaks the chain at the next one; the
// sequence numbers leave no room for a gap. Every CheckpointEvery records,
// on [Log.Checkpoint] and on [Log.Close], a checkpoint record signs the
// chain head with ed25519: whoever can write the file but not sign cannot
// forge records that verify. [Verify] and [VerifyFile] report the first
// record where the trail is not intact as a *[VerifyError].
//
// One attack the chain alone cannot see: cutting the trail back exactly to
// an earlier checkpoint leaves a shorter trail that is valid on its own.
// Keep the chain head ([Log.Head]) somewhere else and pass it as
// VerifyOptions.Anchor; the tests tamper with a stored trail by flipping
// every byte of a record, deleting and swapping records, truncating at
// every byte and appending forged records, and every case is detected.
//
// # Concurrency
//
// A [Log]'s methods may be called concurrently. A Store belongs to one Log.
//
// # Errors
//
// [ErrNoKey] from New without a key; after a store failure every Append
// returns an error wrapping [ErrFailed] (nothing more is recorded, so no
// gap can hide); *[DecodeError] for bytes that are not a record;
// *[VerifyError] for a broken trail.
package audit
