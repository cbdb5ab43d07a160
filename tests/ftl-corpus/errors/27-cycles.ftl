// realm's own rule (FTL loops): a type alias containing itself, data that
// contains itself through required fields
realm shop {
  module loops {
    typealias Forever [loops.Again]
    typealias Again {String: loops.Forever}

    data Chain {
      link loops.Link
    }

    data Link {
      chain loops.Chain
    }
  }
}
