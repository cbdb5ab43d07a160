// Several databases, and verbs that reach one through the verbs they call.
realm data {
  module store {
    database postgres orders
    database postgres customers
    database mysql archive

    data Id {
      id String
    }

    verb loadOrder(store.Id) store.Id
      +database uses store.orders
      +sql query one "SELECT id FROM orders WHERE id = $1"

    verb saveOrder(store.Id) Unit
      +calls store.loadOrder
      +transaction

    verb report(Unit) Unit
      +database uses store.orders, store.customers, store.archive
  }
}
