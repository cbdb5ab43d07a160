// A program over the client of the hostile realm (tests/clients.rs builds
// and runs it): it encodes a request whose JSON names are "-", "a,b",
// quotes and backticks, decodes it back, and has unknown enum values
// refused. Code injected into the generated package through a comment or
// a struct tag would run first (an init function) and fail it.
package main

import (
	"fmt"
	"os"
	"reflect"
	"time"

	"example.com/hostile/realms"
	"example.com/hostile/realms/hostile/hostile"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	at := time.Date(2024, 5, 1, 12, 30, 45, 0, time.UTC)
	req := hostile.Req{
		Dash:       "dash",
		Comma:      "comma",
		Omit:       "omit",
		Tick:       "tick",
		Quote:      "quote",
		Slash:      "slash",
		Proto:      "proto",
		Ctor:       realms.None[string](),
		X__proto__: "dunder",
		Type:       "type",
		ByName:     map[string]int{"__proto__": 1, "constructor": 2},
		Mood:       hostile.MoodX__proto__,
		Level:      hostile.LevelX__proto__,
		Shape:      hostile.ShapeX__proto__("shape"),
		Date:       hostile.Date{At: at, Raw: []byte{0, 1, 2}},
		Record: hostile.Record{
			Map:    map[string]hostile.Date{"__proto__": {At: at, Raw: []byte{}}},
			ByMood: map[hostile.Mood]int{hostile.Calm: 1},
		},
		Boxed: hostile.Box[int]{Value: 7, At: at, Raw: []byte{255}},
	}
	data, err := realms.Marshal(req)
	if err != nil {
		fail("encode: %v", err)
	}
	fmt.Println(string(data))

	var back hostile.Req
	if err := realms.Unmarshal(data, &back); err != nil {
		fail("decode: %v", err)
	}
	if !reflect.DeepEqual(back, req) {
		fail("decode:\n got %#v\nwant %#v", back, req)
	}
	fmt.Println("ok decode")

	var mood hostile.Mood
	if err := realms.Unmarshal([]byte(`"sad"`), &mood); err == nil {
		fail("a String enum took %q", mood)
	}
	if err := realms.Unmarshal([]byte(`"proto"`), &mood); err != nil || mood != hostile.MoodX__proto__ {
		fail("a String enum refused its value: %v", err)
	}
	fmt.Println("ok unknown String enum value refused")

	var level hostile.Level
	for _, unknown := range []string{`7`, `"7"`, `"High"`} {
		if err := realms.Unmarshal([]byte(unknown), &level); err == nil {
			fail("an Int enum took %s", unknown)
		}
	}
	for _, known := range []string{`2`, `"2"`, `"__proto__"`} {
		level = 0
		if err := realms.Unmarshal([]byte(known), &level); err != nil || level != hostile.LevelX__proto__ {
			fail("an Int enum refused %s: %v", known, err)
		}
	}
	fmt.Println("ok unknown Int enum value refused")
}
