package two

// Verbs calling each other, generic data, value and type enums, and type
// aliases of types FTL does not know.

import (
	"context"

	"ftl/builtin"

	"github.com/block/ftl/go-runtime/ftl"
	lib "github.com/block/ftl/go-runtime/schema/testdata"
	retry "github.com/jpillora/backoff"
)

//ftl:enum export
type TwoEnum string

const (
	Green TwoEnum = "Green"
	Red   TwoEnum = "Red"
	Blue  TwoEnum = "Blue"
)

// A type enum's variants: a data type with a directive, one without, and
// two named types that are not structs.

//ftl:enum export
type TypeEnum interface{ typeEnum() }

//ftl:data export
type Exported struct{}

type WithoutDirective struct{}

type Scalar string

type List []string

func (Exported) typeEnum()         {}
func (WithoutDirective) typeEnum() {}
func (Scalar) typeEnum()           {}
func (List) typeEnum()             {}

type Payload[T any] struct {
	Body T
}

type User struct {
	Name string
}

type UserResponse struct {
	User User
}

//ftl:verb export
func Two(ctx context.Context, in Payload[string]) (Payload[string], error) {
	return in, nil
}

//ftl:verb export
func Three(ctx context.Context, in Payload[string]) (Payload[string], error) {
	return in, nil
}

//ftl:verb export
func CallsTwo(ctx context.Context, in Payload[string], two TwoClient) (Payload[string], error) {
	return two(ctx, in)
}

//ftl:verb export
func CallsTwoAndThree(ctx context.Context, in Payload[string], two TwoClient, three ThreeClient) (Payload[string], error) {
	return in, both(ctx, in, two, three)
}

// both calls the clients it is given; it is no verb.
func both(ctx context.Context, in Payload[string], two TwoClient, three ThreeClient) error {
	if _, err := two(ctx, in); err != nil {
		return err
	}
	_, err := three(ctx, in)
	return err
}

//ftl:verb export
func ReturnsUser(ctx context.Context) (UserResponse, error) {
	return UserResponse{User: User{Name: "Ada"}}, nil
}

// External types become `Any`, with the Go type named by a typemap.

//ftl:typealias
//ftl:typemap kotlin "com.foo.bar.NonFTLType"
//ftl:typemap go "github.com/block/ftl/go-runtime/schema/testdata.lib.NonFTLType"
type ExplicitAliasType lib.NonFTLType

//ftl:typealias
//ftl:typemap kotlin "com.foo.bar.NonFTLType"
//ftl:typemap go "github.com/block/ftl/go-runtime/schema/testdata.lib.NonFTLType"
type ExplicitAliasAlias = lib.NonFTLType

type (
	TransitiveAliasType  lib.NonFTLType
	TransitiveAliasAlias = lib.NonFTLType
	// Not used by anything FTL extracts.
	Unused lib.NonFTLType
)

//ftl:typealias
type BackoffAlias retry.Backoff

//ftl:data
type NonFTLField struct {
	ExplicitType    ExplicitAliasType
	ExplicitAlias   ExplicitAliasAlias
	TransitiveType  TransitiveAliasType
	TransitiveAlias TransitiveAliasAlias
}

// Value enums over a named type that is itself a string.

type PaymentState string

type PayinState PaymentState

type PayoutState PaymentState

const PayinPending PayinState = "PAYIN_PENDING"

const PayoutPending PayoutState = "PAYOUT_PENDING"

//ftl:data
type Payment struct {
	In  PayinState
	Out PayoutState
}

type PostRequest struct {
	UserID int
	PostID int
}

type PostResponse struct {
	Success bool
}

//ftl:ingress http POST /users
//ftl:encoding lenient
func Ingress(ctx context.Context, req builtin.HttpRequest[PostRequest, ftl.Unit, ftl.Unit]) (builtin.HttpResponse[PostResponse, string], error) {
	return builtin.HttpResponse[PostResponse, string]{Status: 201, Body: ftl.Some(PostResponse{Success: true})}, nil
}
