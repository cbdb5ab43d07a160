// Package model holds types of the reach module in a subpackage.
package model

import "time"

// Item is found by searches.
type Item struct {
	ID      string
	Updated time.Time
}
