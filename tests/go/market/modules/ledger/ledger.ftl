// The ledger is written as schema text.
module ledger {
  export verb record(ledger.Line) Unit
    +calls orders.lastReceipt

  export data Line {
    orderId String
  }
}
