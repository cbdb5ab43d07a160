module ftl/payments

go 1.24
