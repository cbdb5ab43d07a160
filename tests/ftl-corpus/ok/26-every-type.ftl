// Every builtin type, lists, maps and optionals, nested.
realm types {
  module all {
    export data Everything {
      int Int
      float Float
      string String
      bytes Bytes
      bool Bool
      time Time
      any Any
      unit Unit
      list [Int]
      map {String: Float}
      optional String?
      nested {String: [{Int: [Bool?]}]}?
      ref all.Everything?
      refs [all.Everything]
    }
  }
}
