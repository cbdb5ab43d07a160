// An FTL realm with every kind of declaration, as its cluster holds it
// (config, secrets and declarations nothing exported reaches included).
// tests/ftl_wire.rs publishes it as FTL's `Schema.External()` does into
// market.json.
realm market {
  // Orders and their life cycle.
  module orders {
    config region String
    secret apiKey String

    database postgres ordersdb
      +migration sha256:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988

    // Every order placed, for whoever subscribes.
    export topic placed orders.Order
      +partitions 4

    // An order as other realms see it.
    export realm data Order {
      id orders.OrderId
      status orders.Status
      lines [orders.Line]
      payment orders.Payment
      placedAt Time
      note String? +alias json "memo"
      attributes {String: Any}
      total Float
      paid Bool
      receipt Bytes?
    }

    export realm typealias OrderId String
      +typemap go "github.com/example/market/ids.OrderID"

    export realm data Line {
      sku String
      quantity Int
    }

    export realm enum Status: String {
      Open = "open"
      Paid = "paid"
      Shipped = "shipped"
    }

    export realm enum Priority: Int {
      Low = 0
      High = 1
    }

    // How an order is paid.
    export realm enum Payment {
      Card orders.Card
      Iban String
      Later Unit
    }

    export realm data Card {
      number String
      expires String
    }

    // A page of anything.
    export realm data Page<T> {
      items [T]
      next String?
    }

    export realm data PlaceRequest {
      lines [orders.Line]
      payment orders.Payment
      priority orders.Priority
    }

    // Places an order.
    export realm verb place(orders.PlaceRequest) orders.Order
      +calls payments.charge, orders.audit
      +database uses orders.ordersdb
      +publish orders.placed
      +retry 3 1s 10s catch orders.recover
      +config orders.region
      +secrets orders.apiKey
      +transaction

    // Lists orders, a page at a time.
    export realm verb list(Unit) orders.Page<orders.Order>
      +calls orders.findAll

    // Looks an order up over HTTP.
    export realm verb get(builtin.HttpRequest<Unit, orders.GetPath, Unit>) builtin.HttpResponse<orders.Order, String>
      +ingress http GET /orders/{id}

    export realm data GetPath {
      id String
    }

    verb audit(orders.Order) Unit

    verb recover(builtin.CatchRequest<orders.PlaceRequest>) Unit

    export verb findAll(Unit) [orders.Order]
      +database uses orders.ordersdb
      +sql query many "SELECT * FROM orders"

    // Nothing exported reaches it: not published.
    verb notify(orders.Order) Unit
      +subscribe orders.placed from=beginning
      +egress "https://hooks.example.com"

    verb nightly(Unit) Unit
      +cron 0 2 * * *
  }

  // Payments; no declaration of its own is `export realm`.
  module payments {
    export data ChargeRequest {
      amount Int
      cardNumber String
    }

    export data ChargeResponse {
      reference String
    }

    // Charged by orders.place.
    export verb charge(payments.ChargeRequest) payments.ChargeResponse
      +retry 5 500ms

    export verb refund(payments.ChargeResponse) Unit
  }
}
