module ftl/named

go 1.24

replace ftl/namedext => ../namedext
