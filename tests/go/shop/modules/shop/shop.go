// Package shop sells things.
package shop

import (
	"context"
	"time"

	"ftl/builtin"
	"ftl/shop/catalog"

	"github.com/block/ftl/go-runtime/ftl"
)

// OrderID identifies an order.
//
//ftl:typealias export
type OrderID string

// Order is what a customer buys.
type Order struct {
	ID          OrderID
	CustomerID  int    `json:"customer"`
	HTTPSource  string `json:"source,omitempty"`
	Lines       []Line
	Tags        map[string][]string
	Note        ftl.Option[string]
	PlacedAt    time.Time
	Receipt     []byte
	Extra       any
	Total       float64
	Gift        bool
	Product     catalog.Product
	Attachments Page[catalog.Product]
}

// Line is one line of an order.
type Line struct {
	SKU      string
	Quantity int
}

// Page is one page of results.
//
//ftl:data export
type Page[T any] struct {
	Items []T
	Next  ftl.Option[string]
}

type PlaceRequest struct {
	Order Order
}

type PlaceResponse struct {
	ID OrderID
}

// Place records an order.
//
//ftl:verb export:realm
func Place(ctx context.Context, req PlaceRequest) (PlaceResponse, error) {
	return PlaceResponse{ID: req.Order.ID}, nil
}

type Audit struct {
	Message string
}

// Record is a sink: a request and no response.
//
//ftl:verb
func Record(ctx context.Context, req Audit) error {
	return nil
}

// Latest is a source: a response and no request.
//
//ftl:verb export
func Latest(ctx context.Context) (Order, error) {
	return Order{}, nil
}

// Ping takes nothing and returns nothing.
//
//ftl:verb export:realm
func Ping(ctx context.Context) error {
	return nil
}

//ftl:verb
func Lookup(ctx context.Context, ids []OrderID) (map[string]Order, error) {
	return nil, nil
}

type GetOrderPath struct {
	ID string
}

type NotFound struct {
	Reason string
}

// GetOrder serves GET /orders/{id}.
//
//ftl:ingress http GET /orders/{id}
//ftl:encoding lenient
func GetOrder(ctx context.Context, req builtin.HttpRequest[ftl.Unit, GetOrderPath, ftl.Unit]) (builtin.HttpResponse[Order, NotFound], error) {
	return builtin.HttpResponse[Order, NotFound]{}, nil
}

// helper is not a verb.
func helper() int { return 1 }
