module ftl/shop

go 1.24

require github.com/block/ftl v0.500.0
