// Package orders takes orders and pays for them through payments.
package orders

import (
	"context"

	"ftl/payments"
)

type Checkout struct {
	OrderID string
	Cents   int
}

type Confirmation struct {
	OrderID string
	Paid    bool
}

// Pay charges the order through the payments module's verb client.
//
//ftl:verb export:realm
func Pay(ctx context.Context, req Checkout, charge payments.ChargeClient, refund payments.RefundClient) (Confirmation, error) {
	receipt, err := charge(ctx, payments.ChargeRequest{OrderID: req.OrderID, Cents: req.Cents})
	if err != nil {
		return Confirmation{}, err
	}
	return Confirmation{OrderID: req.OrderID, Paid: receipt.Approved}, nil
}

// LastReceipt returns a payments type.
//
//ftl:verb export
func LastReceipt(ctx context.Context) (payments.Receipt, error) {
	return payments.Receipt{}, nil
}
