// Reads values as FTL's Go runtime does (encoding/json, time.Parse) and
// prints each verdict, for tests/hostile_values.rs to compare with the
// ingress's checker: `go run main.go CASES`, where CASES is a JSON array
// of {"kind", "input"}. One line per case: "ok CANONICAL" or "err".
// The first line says whether this Go reads zone offsets beyond Go 1.20's
// bounds (+24:00, 60 minutes): "lax-offsets true|false".
//
// Standard library only (GOPATH mode, nothing to download).
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

type testCase struct {
	Kind  string `json:"kind"`
	Input string `json:"input"`
}

func main() {
	text, err := os.ReadFile(os.Args[1])
	check(err)
	var cases []testCase
	check(json.Unmarshal(text, &cases))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	_, lax := time.Parse(time.RFC3339, "2024-01-01T00:00:00+25:00")
	fmt.Fprintf(out, "lax-offsets %v\n", lax == nil)
	for _, c := range cases {
		canonical, ok := read(c)
		if ok {
			fmt.Fprintf(out, "ok %s\n", canonical)
		} else {
			fmt.Fprintln(out, "err")
		}
	}
}

func instant(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// read answers the canonical value of c.Input, or false when Go refuses it.
func read(c testCase) (string, bool) {
	switch c.Kind {
	case "time":
		// As time.Time's UnmarshalJSON and UnmarshalText (map keys) read.
		t, err := time.Parse(time.RFC3339, c.Input)
		if err != nil {
			return "", false
		}
		return instant(t), true
	case "int-key":
		var m map[int64]int
		if json.Unmarshal(object(c.Input), &m) != nil || len(m) != 1 {
			return "", false
		}
		for k := range m {
			return fmt.Sprint(k), true
		}
	case "int":
		// The input is JSON text: how the number is written matters.
		var n int64
		if json.Unmarshal([]byte(c.Input), &n) != nil {
			return "", false
		}
		return fmt.Sprint(n), true
	case "bytes":
		var b []byte
		quoted, err := json.Marshal(c.Input)
		check(err)
		if json.Unmarshal(quoted, &b) != nil {
			return "", false
		}
		return hex.EncodeToString(b), true
	case "int-keys":
		// A JSON object of two members: how many keys Go's map keeps.
		var m map[int64]int
		if json.Unmarshal([]byte(c.Input), &m) != nil {
			return "", false
		}
		return fmt.Sprint(len(m)), true
	case "time-keys":
		// Two members: how many keys Go's map keeps, and whether the two
		// name one instant.
		var m map[time.Time]int
		if json.Unmarshal([]byte(c.Input), &m) != nil {
			return "", false
		}
		var raw map[string]int
		check(json.Unmarshal([]byte(c.Input), &raw))
		instants := map[string]bool{}
		for k := range raw {
			t, err := time.Parse(time.RFC3339, k)
			check(err)
			instants[instant(t)] = true
		}
		return fmt.Sprintf("%d %v", len(m), len(instants) == 1), true
	}
	panic("unknown kind " + c.Kind)
}

func object(key string) []byte {
	quoted, err := json.Marshal(key)
	check(err)
	return []byte(fmt.Sprintf("{%s:1}", quoted))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
}
