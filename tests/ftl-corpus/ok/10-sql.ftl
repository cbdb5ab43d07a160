// Databases with migrations, generated query verbs and their column
// mappings, one line of metadata per verb as FTL's own tests write it.
realm stock {
  module items {
    // The items.
    database postgres items
      +migration sha256:3f6c2a9e81b47d05c6e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7
    database mysql legacy
      +migration sha256:9b1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091

    data ItemRow {
      +generated
      sku String +sql column items.sku
      name String +sql column items.display_name
      note String? +sql column "item notes"."free text"
    }

    data SkuQuery {
      +generated
      sku String
    }

    verb insertItem(items.ItemRow) Unit
      +database uses items.items +sql query exec "INSERT INTO items (sku, display_name) VALUES ($1, $2)" +generated

    verb itemBySku(items.SkuQuery) items.ItemRow
      +database uses items.items
      +sql query one "SELECT sku, display_name FROM items WHERE sku = $1"
      +generated

    verb allItems(Unit) [items.ItemRow]
      +database uses items.items
      +sql query many "SELECT sku, display_name FROM items"

    verb loadLegacy([items.ItemRow]) Unit
      +database uses items.legacy
      +sql query copyfrom "items"
  }
}
