// FTL: query verb must specify a corresponding datasource / transaction
// verbs can only access a single datasource / cannot inject nested
// transactions
realm shop {
  module store {
    database postgres a
    database postgres b

    verb query(Unit) Unit
      +sql query exec "DELETE FROM x"

    verb both(Unit) Unit
      +database uses store.a, store.b
      +transaction

    verb outer(Unit) Unit
      +database uses store.a
      +calls store.inner
      +transaction

    verb inner(Unit) Unit
      +database uses store.a
      +transaction
  }
}
