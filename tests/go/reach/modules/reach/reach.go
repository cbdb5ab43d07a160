package reach

import (
	"context"

	"ftl/reach/internal/model"

	"github.com/block/ftl/go-runtime/ftl"
)

// Query is the public request: everything it reaches becomes public.
type Query struct {
	Filter Filter
	Page   Page[model.Item]
	Sort   ftl.Option[SortOrder]
}

type Filter interface{ isFilter() }

type ByName struct {
	Name Name
}

func (ByName) isFilter() {}

type ByTag struct {
	Tags []string
}

func (ByTag) isFilter() {}

// Name is a type alias that becomes public through ByName.
type Name string

type SortOrder string

const (
	Ascending  SortOrder = "asc"
	Descending SortOrder = "desc"
)

type Page[T any] struct {
	Items []T
	Total int
}

// Shared is used by an exported verb and a realm-exported one: realm wins.
//
//ftl:data export
type Shared struct {
	Note string
}

type Result struct {
	Items  []model.Item
	Shared Shared
}

//ftl:verb export:realm
func Search(ctx context.Context, q Query) (Result, error) {
	return Result{}, nil
}

type Stats struct {
	Shared Shared
	Hits   int
}

// Count is exported inside the realm only.
//
//ftl:verb export
func Count(ctx context.Context) (Stats, error) {
	return Stats{}, nil
}

type Secret struct {
	Value string
}

// Reindex is private, and so is what it uses.
//
//ftl:verb
func Reindex(ctx context.Context, s Secret) error {
	return nil
}

// Flagged is exported by its own directive once something uses it.
//
//ftl:export
type Flagged struct {
	On bool
}

//ftl:verb
func Toggle(ctx context.Context, f Flagged) error {
	return nil
}

type Changed struct {
	Item model.Item
}

// Changes are published inside the realm.
//
//ftl:export
type Changes = ftl.TopicHandle[Changed, ftl.SinglePartitionMap[Changed]]
