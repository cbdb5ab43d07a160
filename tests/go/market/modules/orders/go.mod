module ftl/orders

go 1.24

replace ftl/payments => ../payments
