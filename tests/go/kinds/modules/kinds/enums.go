package kinds

import (
	"context"

	"github.com/block/ftl/go-runtime/ftl"
	decimal "github.com/shopspring/decimal"
	"github.com/google/uuid"
)

// Suit of a playing card.
//
//ftl:enum export
type Suit string

const (
	// Spades are the highest suit.
	Spades   Suit = "spades"
	Hearts   Suit = "hearts"
	Diamonds Suit = "diamonds"
)

// Clubs is declared apart from the others.
const Clubs Suit = "clubs"

//ftl:enum
type Rank int

const (
	Two Rank = iota + 2
	Three
	Four
)

const Ace Rank = 14

// Priority is inferred as an enum: it has typed constants.
type Priority int

const (
	Low Priority = -1
	Mid Priority = 0x0
	High Priority = 1 << 3
)

// Level wraps another named type.
type Level Grade

type Grade string

const (
	Junior Level = "JUNIOR"
	Senior Level = "SENIOR"
)

// Shape is a sealed interface: a type enum.
//
//ftl:enum export
type Shape interface{ isShape() }

// Circle is round.
type Circle struct {
	Radius float64
}

func (Circle) isShape() {}

type Square struct {
	Side float64
}

func (Square) isShape() {}

// Label is a shape that is only a name.
type Label string

func (Label) isShape() {}

type Points []int

func (Points) isShape() {}

type Maybe ftl.Option[string]

func (Maybe) isShape() {}

type Ranked Rank

func (Ranked) isShape() {}

// pointer receivers do not make a variant
type Ghost struct{}

func (*Ghost) isShape() {}

// Money is an external type, widened to Any.
//
//ftl:typealias
type Money decimal.Decimal

// ID is an external type with mappings for other runtimes too.
//
//ftl:typealias export
//ftl:typemap kotlin "java.util.UUID"
//ftl:typemap go "github.com/google/uuid.UUID"
type ID = uuid.UUID

// Code is a plain alias of a scalar.
type Code = string

type Card struct {
	Suit     Suit
	Rank     Rank
	Priority Priority
	Level    Level
	Shape    Shape
	Price    Money
	Owner    ID
	Code     Code
}

//ftl:verb export:realm
func Deal(ctx context.Context, req Card) (Card, error) {
	return req, nil
}
