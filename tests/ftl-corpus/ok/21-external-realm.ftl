// Another realm's public API written by hand, and references across realms
// (`@realm` is realm's addition to FTL's text).
external realm bank {
  module balance {
    export realm data Account {
      id String
    }

    export realm verb withdraw(balance.Account) balance.Account
  }
}

realm shop {
  module checkout {
    data Payment {
      account balance.Account@bank
    }

    verb pay(checkout.Payment) Unit
      +calls balance.withdraw@bank
  }
}
