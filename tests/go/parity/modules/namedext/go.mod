module ftl/namedext

go 1.24
