// `+config` and `+secrets` name what a verb reads, several metadata on one
// line as FTL's own tests write them.
realm shop {
  module orders {
    config currency String
    config taxRate Float
    secret paymentKey String
    secret webhookSecret String

    export data Order {
      id String
      total Int
    }

    export verb place(orders.Order) orders.Order
      +calls orders.notify +secrets orders.paymentKey +config orders.currency

    export verb notify(orders.Order) Unit
      +config orders.currency, orders.taxRate
      +secrets orders.paymentKey, orders.webhookSecret
  }
}
