module ftl/one

go 1.24

replace ftl/two => ../two
