// FTL: unexpected token "s" (a blank inside a duration)
realm shop {
  module till {
    verb ring(Unit) Unit
      +retry 10 5 s
  }
}
