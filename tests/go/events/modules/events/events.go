// Package events moves signups around.
package events

import (
	"context"

	"ftl/builtin"

	"github.com/block/ftl/go-runtime/ftl"
)

// Signup is published when someone signs up.
type Signup struct {
	Email   string
	Country string
}

// ByCountry keeps each country's signups in order.
type ByCountry struct{}

func (ByCountry) PartitionKey(s Signup) string { return s.Country }

// Signups of every country.
//
//ftl:topic export partitions=8
type Signups = ftl.TopicHandle[Signup, ByCountry]

// Audits are internal.
type Audits = ftl.TopicHandle[Signup, ftl.SinglePartitionMap[Signup]]

// Digests are exported without partitions.
//
//ftl:export
type Digests = ftl.TopicHandle[Digest, ftl.SinglePartitionMap[Digest]]

type Digest struct {
	Count int
}

// Register publishes a signup.
//
//ftl:verb export:realm
func Register(ctx context.Context, req Signup, signups Signups, audits Audits) error {
	return signups.Publish(ctx, req)
}

// Welcome reads every signup from the start.
//
//ftl:verb
//ftl:subscribe signups from=beginning
//ftl:retry 5 1s 30s catch recoverSignup
func Welcome(ctx context.Context, s Signup) error {
	return nil
}

// Tally reads new signups only, with a dead-letter topic.
//
//ftl:verb
//ftl:subscribe events.signups from=latest deadletter
//ftl:retry 3 1s
func Tally(ctx context.Context, s Signup) error {
	return nil
}

//ftl:verb
func RecoverSignup(ctx context.Context, req builtin.CatchRequest[Signup]) error {
	return nil
}

// Hourly runs every hour.
//
//ftl:cron 1h
func Hourly(ctx context.Context, digests Digests) error {
	return nil
}

// Nightly runs at two past midnight.
//
//ftl:cron 2 0 * * *
func Nightly(ctx context.Context) error {
	return nil
}

//ftl:cron Mon
func Weekly(ctx context.Context) error {
	return nil
}

// Seed fills a test database.
//
//ftl:fixture
func Seed(ctx context.Context) error {
	return nil
}

//ftl:fixture manual
func SeedByHand(ctx context.Context) error {
	return nil
}
