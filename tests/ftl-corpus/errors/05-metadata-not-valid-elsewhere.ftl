// FTL: metadata "..." is not valid on fields / type aliases / databases /
// verbs (+sql column)
realm shop {
  module till {
    database postgres sales
      +generated

    typealias Cents Int
      +alias json "cents"

    data Sale {
      amount Int +encoding json
    }

    verb ring(Unit) Unit
      +sql column sales.amount
  }
}
