module ftl/events

go 1.24
