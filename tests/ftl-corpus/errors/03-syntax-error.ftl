// FTL: unexpected token "calls" (expected "}")
realm shop {
  module till {
    data Sale {} calls
  }
}
