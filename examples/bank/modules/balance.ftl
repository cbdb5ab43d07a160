// Balances of customer accounts.
module balance {
  config currency String
  secret ledgerToken String

  database postgres accounts
    +migration sha256:5e1a8c5f0b6e2d7d3e0c4b9f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d

  // An account as other realms see it.
  export realm data Account {
    id String
    owner String
    balance Int
    currency balance.Currency
  }

  // Currencies an account can hold.
  export realm enum Currency: String {
    Eur = "EUR"
    Usd = "USD"
  }

  // Withdraws money from an account.
  export realm verb withdraw(balance.WithdrawRequest) balance.WithdrawResponse
    +retry 3 1s 30s
    +database uses balance.accounts
    +calls audit.record

  export realm data WithdrawRequest {
    account String
    // In cents.
    amount Int
    memo String? +alias json "note"
  }

  export realm data WithdrawResponse {
    balance Int
  }

  // Looks an account up by id.
  export realm verb account(balance.AccountRequest) balance.Account
    +database uses balance.accounts

  export realm data AccountRequest {
    id String
  }

  // Settles the day's withdrawals; internal to the bank.
  verb settle(Unit) Unit
    +cron 0 3 * * *
    +config balance.currency
    +secrets balance.ledgerToken
}
