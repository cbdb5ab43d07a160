// Native types of each runtime and lenient JSON.
realm interop {
  module money {
    export typealias Decimal String
      +typemap go "github.com/shopspring/decimal.Decimal"
      +typemap kotlin "java.math.BigDecimal"
      +typemap java "java.math.BigDecimal"
    export typealias Currency String

    export data Price {
      +typemap go "example.com/money.Price"
      +encoding json lenient
      amount money.Decimal
      currency money.Currency
    }

    export verb convert(money.Price) money.Price
      +encoding json lenient

    export verb strict(money.Price) money.Price
      +encoding json
  }
}
