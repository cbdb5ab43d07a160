package catalog

// Product is sold in the shop.
type Product struct {
	Name  string
	Price int
	Kind  Kind
}

// Kind is the kind of product.
type Kind string

const (
	Book  Kind = "book"
	Music Kind = "music"
)
