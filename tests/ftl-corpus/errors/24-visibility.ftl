// FTL: data "Line" must have visibility of "export" due to ... /
// verb "stock.count" must be exported
realm shop {
  module orders {
    export data Order {
      lines [orders.Line]
    }

    data Line {
    }

    export realm data Receipt {
      order orders.Order
    }

    verb check(Unit) Unit
      +calls stock.count
  }

  module stock {
    verb count(Unit) Unit
  }
}
