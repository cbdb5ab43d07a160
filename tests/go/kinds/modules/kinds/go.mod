module ftl/kinds

go 1.24
