// FTL: enum "Nothing" must have at least one variant; type enum variant
// value must be a type
realm shop {
  module till {
    enum Nothing {
    }

    enum Mixed {
      Text String
      Number = 1
    }
  }
}
