// FTL: enum variant "Coins" of type Int cannot have a value of type "String"
realm shop {
  module till {
    enum Tender: Int {
      Cash = 1
      Coins = "coins"
    }
  }
}
