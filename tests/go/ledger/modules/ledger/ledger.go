package ledger

import (
	"context"

	"github.com/block/ftl/go-runtime/ftl"
)

// Currency is the ledger's currency.
type Currency = ftl.Config[string]

// Limits per account.
type Limits = ftl.Config[map[string]int]

// BackupUrl is where Rates asks when the rates service is down.
type BackupUrl = ftl.Config[string]

// SigningKey signs statements.
type SigningKey = ftl.Secret[[]byte]

type Entry struct {
	Account string
	Amount  int
}

type BalanceRequest struct {
	Account string
}

type Balance struct {
	Amount   int
	Currency string
}

// Post writes an entry in a transaction.
//
//ftl:transaction
func Post(ctx context.Context, e Entry, books BooksHandle) error {
	return nil
}

// Balance reads the balance.
//
//ftl:verb export:realm
func Balance(ctx context.Context, req BalanceRequest, books BooksHandle, currency Currency) (Balance, error) {
	return Balance{}, nil
}

// Transfer moves money: it calls two verbs of this module.
//
//ftl:verb export:realm
func Transfer(ctx context.Context, req Transfer, post PostClient, balance BalanceClient, limits Limits) (Balance, error) {
	return balance(ctx, BalanceRequest{Account: req.From})
}

type Transfer struct {
	From   string
	To     string
	Amount int
}

// Statement calls a verb whose client is not generated yet.
//
//ftl:verb export
func Statement(ctx context.Context, req BalanceRequest, archive ArchiveHandle, key SigningKey, sign SignClient) ([]Entry, error) {
	return nil, nil
}

//ftl:verb
func Sign(ctx context.Context, req []byte) ([]byte, error) {
	return req, nil
}

// Rates asks an outside service.
//
//ftl:verb
//ftl:egress rates="https://rates.example.com" backup="${backupUrl}"
func Rates(ctx context.Context, rates string, backup string) (map[string]float64, error) {
	return nil, nil
}
