// Turns carts into paid orders.
module checkout {
  // Pays for a cart from a bank account.
  export realm verb pay(checkout.PayRequest) checkout.PayResponse
    +calls balance.withdraw@bank

  export realm data PayRequest {
    account String
    items [checkout.Item]
    tags {String: String}
  }

  export realm data Item {
    sku String
    quantity Int
    // In cents.
    price Int
  }

  export realm data PayResponse {
    order String
    total Int
  }

  // What the bank answered, kept with the order. Private: the shop's public
  // API uses only the shop's own types.
  data Receipt {
    order String
    withdrawal balance.WithdrawResponse@bank
  }
}
