module ftl/two

go 1.24

require (
	github.com/block/ftl v0.0.0
	github.com/jpillora/backoff v1.0.0
)
