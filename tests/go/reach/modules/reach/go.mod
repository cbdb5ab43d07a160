module ftl/reach

go 1.24
