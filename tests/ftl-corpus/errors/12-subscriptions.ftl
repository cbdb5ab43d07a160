// FTL: request type ... differs from subscription's event type / must be a
// sink to subscribe / dead letter topic ... must have the same event type /
// expected ... to be a dead letter topic
realm shop {
  module till {
    topic sales till.Sale
    topic refunds till.Refund
    topic settleFailed builtin.FailedEvent<till.Refund>

    data Sale {
    }

    data Refund {
    }

    data reportFailed {
    }

    verb wrongEvent(till.Refund) Unit
      +subscribe till.sales from=beginning

    verb notASink(till.Sale) till.Refund
      +subscribe till.sales from=latest

    verb settle(till.Sale) Unit
      +subscribe till.sales from=beginning deadletter

    verb report(till.Sale) Unit
      +subscribe till.sales from=beginning deadletter
  }
}
