// FTL: found cycle in dependencies: orders -> stock -> orders
realm shop {
  module orders {
    export verb place(Unit) Unit
      +calls stock.reserve
  }

  module stock {
    export verb reserve(Unit) Unit
      +calls orders.place
  }
}
