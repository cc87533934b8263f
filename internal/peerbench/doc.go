// Package peerbench measures semevent side by side with the libraries its
// users would pick instead, on the same workloads: in-process propagation
// (buffered channels, watermill's gochannel, NATS embedded in process,
// EventBus), subject routing (the NATS sublist), conditions (expr,
// cel-go, a hand-written closure), 3-node consensus (coord/raft against
// hashicorp/raft in memory, on loopback TCP and with a boltdb log) and
// replicated publish (64 publishers each waiting for its commit on 3
// replicas with their logs on disk: coord/raft's Append and the bus's
// Replicated Publish against hashicorp/raft with raft-boltdb and NATS
// JetStream with a 3-replica stream on file storage, three nats-server
// instances clustered in process).
//
// It is its own Go module, so that none of these peers enters semevent's
// dependency graph. The benchmarks live in the _test.go files; the tests
// beside them run every harness with a handful of events and check that
// each contender delivers, routes or decides exactly what the others do.
//
// cmd/peerbench runs the benchmarks several times, takes the medians and
// writes BENCHMARKS.md at the repository root. It also runs, in the main
// module, the benchmarks that measure semevent against a naive baseline or
// a floor in the same run and need no peer (CEP at scale, windowed
// aggregation, FUSE capture overhead, the bus's idle CPU; see
// cmd/peerbench/local.go):
//
//	cd internal/peerbench && go run ./cmd/peerbench
//
// The quick check, as CI would run it:
//
//	cd internal/peerbench && go vet ./... && go test -run . -count=1 ./...
package peerbench
