package filter_test

import (
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

func ExampleAnd() {
	f := filter.And(
		filter.Kinds(semevent.KindFileWrite),
		filter.PathPrefix("/data/"),
		filter.SizeRange(4096, 1<<30),
	)
	fmt.Println(f.Match(&semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a", Size: 8192}))
	fmt.Println(f.Match(&semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a", Size: 10}))
	// Output:
	// true
	// false
}

func ExampleCompile() {
	x, err := filter.Compile(`Kind == "write" && Size > 4096 && Path startsWith "/data/"`, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(x.Closure(), x.Fields())
	fmt.Println(x.Match(&semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/big", Size: 1 << 20}))

	_, err = filter.Compile(`Size > `, nil)
	fmt.Println(err)
	// Output:
	// true Kind|Path|Size
	// true
	// filter: expr "Size > ": line 1, column 7 (byte 6): unexpected token EOF
}

func ExamplePathGlob() {
	f, _ := filter.PathGlob("/data/**/*.log")
	fmt.Println(f.Match(&semevent.Event{Path: "/data/2026/11/app.log"}))
	_, err := filter.PathGlob("/data/**x")
	fmt.Println(err)
	// Output:
	// true
	// filter: glob "/data/**x" at byte 6: "**" must be a whole path segment
}
