// Fixtures, transactions and generated declarations.
realm bank {
  module accounts {
    database postgres ledger

    export data Transfer {
      +generated
      from String
      to String
      amount Int
    }

    verb seed(Unit) Unit
      +fixture

    verb seedByHand(Unit) Unit
      +fixture manual

    verb transfer(accounts.Transfer) Unit
      +database uses accounts.ledger
      +transaction

    verb audit(accounts.Transfer) Unit
      +calls accounts.transfer
      +generated
  }
}
