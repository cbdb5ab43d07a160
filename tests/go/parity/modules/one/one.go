package one

import (
	"context"
	"time"

	"ftl/builtin"
	"ftl/two"

	"github.com/block/ftl/go-runtime/ftl"
)

// Value enums: strings, ints with comments, iota and iota expressions,
// and a value declared apart from the others.

//ftl:enum export
type Color string

const (
	Blue  Color = "Blue"
	Green Color = "Green"
	Red   Color = "Red"
)

const Yellow Color = "Yellow"

// Comments about ColorInt.
//
//ftl:enum
type ColorInt int

const (
	// RedInt is a color.
	RedInt ColorInt = 0
	// GreenInt is also a color.
	GreenInt ColorInt = 2
	BlueInt  ColorInt = 1
)

const YellowInt ColorInt = 3

//ftl:enum
type SimpleIota int

const (
	Zero SimpleIota = iota
	One
	Two
)

//ftl:enum
type IotaExpr int

const (
	First IotaExpr = 1 + iota*2
	Second
	Third
)

// Type enums: variants that are data, named types, an option, another
// enum; sealed interfaces without a directive are not enums.

//ftl:enum
type BlobOrList interface{ blobOrList() }

type Blob string

type List []string

func (Blob) blobOrList() {}
func (List) blobOrList() {}

//ftl:enum
type TypeEnum interface{ tag() }

type Option ftl.Option[string]

type InlineStruct struct{}

type UnderlyingStruct struct{}

type AliasedStruct UnderlyingStruct

type ValueEnum ColorInt

func (Option) tag()        {}
func (InlineStruct) tag()  {}
func (AliasedStruct) tag() {}
func (ValueEnum) tag()     {}

//ftl:enum
type PrivateEnum interface{ privateEnum() }

//ftl:data export
type ExportedStruct struct{}

//ftl:data
type PrivateStruct struct{}

type WithoutDirectiveStruct struct{}

func (ExportedStruct) privateEnum()         {}
func (PrivateStruct) privateEnum()          {}
func (WithoutDirectiveStruct) privateEnum() {}

// Dog is a variant of two enums.

//ftl:enum
type Animal interface{ animal() }

//ftl:enum
type Pet interface{ pet() }

type Lion struct{}

type Dog struct{}

type Cat struct{}

func (Lion) animal() {}
func (Dog) animal()  {}
func (Dog) pet()     {}
func (Cat) pet()     {}

type NonFTLInterface interface{ NonFTLInterface() }

type NonFTLStruct struct{ Name string }

func (NonFTLStruct) NonFTLInterface() {}

// Data of every field type.

type Nested struct{}

type Req struct {
	Int                  int
	Float                float64
	String               string
	Slice                []string
	Map                  map[string]string
	Nested               Nested
	Optional             ftl.Option[Nested]
	Time                 time.Time
	User                 two.User `json:"u"`
	Bytes                []byte
	LocalValueEnumRef    Color
	LocalTypeEnumRef     BlobOrList
	ExternalValueEnumRef two.TwoEnum
	ExternalTypeEnumRef  two.TypeEnum
}

type Resp struct{}

//ftl:data export
type ExportedData struct {
	Field string
}

//ftl:data
type DataWithType[T any] struct {
	Value T
}

// Config and secret.

type Config struct {
	Field string
}

type ConfigValue = ftl.Config[Config]

type SecretValue = ftl.Secret[string]

// Verbs of every shape.

//ftl:verb
func Verb(ctx context.Context, req Req) (Resp, error) {
	return Resp{}, nil
}

type SinkReq struct{}

//ftl:verb
func Sink(ctx context.Context, req SinkReq) error {
	return nil
}

type SourceResp struct{}

//ftl:verb
func Source(ctx context.Context) (SourceResp, error) {
	return SourceResp{}, nil
}

//ftl:verb export
func Nothing(ctx context.Context) error {
	return nil
}

//ftl:verb export:realm
func RealmPublic(ctx context.Context) error {
	return nil
}

//ftl:ingress http GET /get
func Http(ctx context.Context, req builtin.HttpRequest[ftl.Unit, ftl.Unit, Req]) (builtin.HttpResponse[Resp, ftl.Unit], error) {
	return builtin.HttpResponse[Resp, ftl.Unit]{}, nil
}

//ftl:verb
func StringToTime(ctx context.Context, in string) (time.Time, error) {
	return time.Parse(time.RFC3339, in)
}

//ftl:verb
func BatchStringToTime(ctx context.Context, in []string) ([]time.Time, error) {
	out := make([]time.Time, 0, len(in))
	for _, s := range in {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

//ftl:fixture
func Fixture(ctx context.Context) error {
	return nil
}
