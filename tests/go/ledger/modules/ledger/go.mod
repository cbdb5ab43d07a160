module ftl/ledger

go 1.24
