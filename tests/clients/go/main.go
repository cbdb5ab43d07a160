// A program of the realm that pins `bank` and `kitchen`, calling them
// through its ingress with the clients `realm generate go` wrote
// (tests/clients.rs builds and runs it). Every check prints "ok ..." or
// exits non-zero saying what differed.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"example.com/shop/realms"
	"example.com/shop/realms/bank/balance"
	"example.com/shop/realms/kitchen/builtin"
	"example.com/shop/realms/kitchen/kitchen"
	"example.com/shop/realms/kitchen/other"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

// fake is set when the realms called are `realm fake`s: their replies
// are generated, so a call only has to succeed and decode (errors come
// from the fakes' examples).
var fake = os.Getenv("REALM_FAKE") != ""

// same checks that a call succeeded and answered what was sent.
func same[T any](what string, got T, err error, want T) {
	if err != nil {
		fail("%s: %v", what, err)
	}
	if !fake && !reflect.DeepEqual(got, want) {
		fail("%s:\n got %#v\nwant %#v", what, got, want)
	}
	fmt.Println("ok " + what)
}

// callError checks that err is the typed error of a refused call, whose
// message contains message.
func callError(what string, err error, status int, code, path, message string) {
	var e *realms.Error
	if !errors.As(err, &e) {
		fail("%s: expected a *realms.Error, got %v", what, err)
	}
	if e.Status != status || e.Code != code || e.Path != path || !strings.Contains(e.Message, message) {
		fail("%s: got %d %q %q %q", what, e.Status, e.Code, e.Path, e.Message)
	}
	fmt.Println("ok " + what)
}

func main() {
	// REALM_ENDPOINT names the ingress.
	c := realms.NewClient("")
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 12, 30, 45, 0, time.UTC)

	everything := kitchen.Everything{
		Int:       42,
		Float:     1.5,
		String:    "snowman ☃ \"quoted\"\n",
		Bytes:     []byte{0, 1, 2, 253, 254, 255},
		Bool:      true,
		Time:      at,
		Any:       map[string]any{"nested": []any{1.5, "x", true, nil}},
		Unit:      realms.Unit{},
		List:      []string{"a", "b"},
		Nested:    [][]int{{1, 2}, {}, {3}},
		Map:       map[string]int{"a": 1, "b": 2},
		IntMap:    map[int]string{1: "one", -2: "minus two"},
		EnumMap:   map[kitchen.Color]int{kitchen.Red: 1, kitchen.Green: 2},
		Optional:  realms.Some("here"),
		Missing:   realms.None[string](),
		Optionals: []realms.Option[string]{realms.Some("x"), realms.None[string](), realms.Some("z")},
		Item:      kitchen.Item{Sku: "s1", Quantity: 2},
		Items:     []kitchen.Item{{Sku: "s2", Quantity: 3}},
		Page:      kitchen.Page[kitchen.Item]{Items: []kitchen.Item{{Sku: "s3", Quantity: 4}}, Next: realms.Some("p2")},
		Pair:      kitchen.Pair[string, int]{Key: "k", Value: 7},
		Color:     kitchen.Green,
		Level:     kitchen.LEVEL_HIGH,
		Shape:     kitchen.Circle(2.5),
		Shapes: []kitchen.Shape{
			kitchen.Label("l"),
			kitchen.Square{Side: 1.5},
			kitchen.Big{Sku: "b", Quantity: 1},
			kitchen.Corners{1, 2, 3, 4},
			kitchen.When{Value: at},
			kitchen.Maybe{Value: realms.None[string]()},
			kitchen.Maybe{Value: realms.Some("m")},
			kitchen.Tone{Value: kitchen.Red},
		},
		Sku:   "s9",
		Tags:  kitchen.Tags{"t": {"x", "y"}},
		Label: "Label",
		Type:  "t",
		Node: kitchen.Node{
			Name:     "root",
			Children: []kitchen.Node{{Name: "leaf", Children: []kitchen.Node{}}},
			Next:     &kitchen.Node{Name: "next", Children: []kitchen.Node{}},
		},
		Stamp: other.Stamp{At: at, By: "me"},
		Empty: builtin.Empty{},
	}
	traced := realms.WithTraceparent(realms.WithRequestID(ctx, "go-echo"),
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	got, err := kitchen.NewEchoClient(c)(traced, everything)
	same("echo", got, err, everything)

	page := kitchen.Page[kitchen.Item]{Items: []kitchen.Item{{Sku: "a", Quantity: 1}}, Next: realms.None[string]()}
	gotPage, err := kitchen.NewEchoPageClient(c)(ctx, page)
	same("echoPage", gotPage, err, page)

	for i, shape := range append([]kitchen.Shape{everything.Shape}, everything.Shapes...) {
		gotShape, err := kitchen.NewEchoShapeClient(c)(ctx, shape)
		same(fmt.Sprintf("echoShape %d", i), gotShape, err, shape)
	}

	levels := []kitchen.Level{kitchen.LEVEL_LOW, kitchen.LEVEL_HIGH}
	gotLevels, err := kitchen.NewEchoLevelsClient(c)(ctx, levels)
	same("echoLevels", gotLevels, err, levels)

	zone := time.FixedZone("", 2*60*60)
	precise := time.Date(2024, 5, 1, 14, 30, 45, 123456789, zone)
	gotTime, err := kitchen.NewEchoTimeClient(c)(ctx, precise)
	if err != nil || (!fake && !gotTime.Equal(precise)) {
		fail("echoTime: got %v, %v", gotTime, err)
	}
	fmt.Println("ok echoTime")

	named, err := kitchen.NewLevelNamesClient(c)(ctx)
	same("levelNames", named, err, []kitchen.Level{kitchen.LEVEL_LOW, kitchen.LEVEL_HIGH, kitchen.LEVEL_HIGH, kitchen.LEVEL_LOW})

	if err := kitchen.NewPingClient(c)(ctx); err != nil {
		fail("ping: %v", err)
	}
	fmt.Println("ok ping")

	item := kitchen.Item{Sku: "gone", Quantity: 1}
	deleted, err := kitchen.NewDeleteClient(c)(ctx, item)
	same("delete", deleted, err, item)

	withdrawn, err := balance.NewWithdrawClient(c)(ctx, balance.WithdrawRequest{Account: "a1", Amount: 500, Memo: realms.Some("go")})
	same("withdraw", withdrawn, err, balance.WithdrawResponse{Balance: 9500})

	account, err := balance.NewAccountClient(c)(ctx, balance.AccountRequest{Id: "a1"})
	same("account", account, err, balance.Account{Id: "a1", Owner: "Ada", Balance: 9500, Currency: balance.Eur})

	// Typed errors: the runner's own, passed through two ingresses, and
	// the ingress's refusal of a body that does not fit.
	err = kitchen.NewFailClient(c)(ctx, kitchen.Item{Sku: "s1", Quantity: 1})
	callError("error from the runner", err, 409, "out_of_stock", "", "no more s1")

	_, err = balance.NewWithdrawClient(c)(ctx, balance.WithdrawRequest{Account: "a2", Amount: 1000})
	callError("error from the bank", err, 409, "insufficient_funds", "", "account a2 holds 250, 1000 was asked")

	bad := everything
	bad.Color = kitchen.Color("blue")
	_, err = kitchen.NewEchoClient(c)(ctx, bad)
	callError("error from the ingress", err, 400, "invalid_body", "$.color",
		`string "blue" is not a value of enum Color; the values are: "red", "green"`)
}
