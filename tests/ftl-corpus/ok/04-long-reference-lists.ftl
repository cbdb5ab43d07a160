// Long lists of references, continued on the next lines the way FTL's
// printer wraps them (a blank is left after the comma of a wrapped line).
realm warehouse {
  module inventory {
    config replenishmentThreshold Int
    config replenishmentSupplier String
    config replenishmentWarehouse String
    config replenishmentCalendar String
    secret supplierApiCredentials String
    secret warehouseApiCredentials String
    secret calendarApiCredentials String
    database postgres stockLevels
    database postgres stockMovements
    database postgres stockForecasts
    topic replenishmentRequested inventory.Replenishment
    topic replenishmentScheduled inventory.Replenishment
    topic replenishmentCancelled inventory.Replenishment

    export data Replenishment {
      sku String
      quantity Int
    }

    verb checkStockLevelsAndReplenish(Unit) Unit
      +calls inventory.countStockOnHand, inventory.countStockInTransit, 
            inventory.scheduleReplenishmentDelivery
      +database uses inventory.stockLevels, inventory.stockMovements, 
            inventory.stockForecasts
      +secrets inventory.supplierApiCredentials, 
            inventory.warehouseApiCredentials, inventory.calendarApiCredentials
      +config inventory.replenishmentThreshold, inventory.replenishmentSupplier, 
            inventory.replenishmentWarehouse, inventory.replenishmentCalendar
      +publish inventory.replenishmentRequested, inventory.replenishmentScheduled, 
            inventory.replenishmentCancelled

    verb countStockOnHand(Unit) Unit

    verb countStockInTransit(Unit) Unit

    verb scheduleReplenishmentDelivery(Unit) Unit
  }
}
