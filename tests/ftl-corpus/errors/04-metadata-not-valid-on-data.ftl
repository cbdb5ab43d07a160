// FTL: metadata "+calls ..." is not valid on data structures
realm shop {
  module till {
    data Sale {
      +calls till.ring
      +config till.currency
      amount Int
    }

    config currency String

    verb ring(Unit) Unit
  }
}
