// FTL: duplicate config "endpoint", first defined at ...
realm shop {
  module till {
    config endpoint String
    config endpoint Any
    database postgres sales
    database postgres sales
  }
}
