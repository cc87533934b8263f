package semevent_test

import (
	"fmt"

	"github.com/vexfs/semevent"
)

func ExampleParseTraceParent() {
	tc, err := semevent.ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err != nil {
		panic(err)
	}
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a.txt", Trace: tc}
	fmt.Println(ev.TopicOrKind(), ev.Trace.TraceID, ev.Trace.Sampled())
	// Output: fs.file.write 4bf92f3577b34da6a3ce929d0e0e4736 true
}

func ExampleEvent_Validate() {
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Topic: "fs.*.write"}
	fmt.Println(ev.Validate())
	// Output: semevent: invalid event: Topic: "fs.*.write" at byte 3: wildcards are not allowed in an event's topic
}
