// Turns carts into paid orders.
module checkout {
  // Pays for a cart.
  export realm verb pay(checkout.PayRequest) checkout.PayResponse

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
}
