// Package payments charges cards.
package payments

import "context"

// ChargeRequest asks for money.
//
//ftl:data export
type ChargeRequest struct {
	OrderID string
	Cents   int
}

//ftl:data export
type Receipt struct {
	ID       string
	Approved bool
}

// Charge takes money from a card.
//
//ftl:verb export
func Charge(ctx context.Context, req ChargeRequest) (Receipt, error) {
	return Receipt{ID: req.OrderID, Approved: true}, nil
}

// Refund is public to other realms.
//
//ftl:verb export:realm
func Refund(ctx context.Context, req RefundRequest) error {
	return nil
}

type RefundRequest struct {
	ReceiptID string
}
