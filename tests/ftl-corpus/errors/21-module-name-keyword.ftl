// FTL: module name "func" is invalid
realm shop {
  module func {
  }
}
