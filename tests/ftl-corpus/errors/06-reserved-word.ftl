// FTL: data name "Bytes" is a reserved word
realm shop {
  module till {
    data Bytes {
      size Int
    }
  }
}
