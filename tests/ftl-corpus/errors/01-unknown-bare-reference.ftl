// FTL: unknown reference "Receipt", is the type annotated and exported?
realm shop {
  module till {
    verb ring(Sale) Receipt
  }
}
