// FTL: reference to data structure Page has 2 type parameters, but 1 were
// expected / reference to verb ... cannot have type parameters
realm shop {
  module lists {
    data Page<T> {
      items [T]
    }

    data Bad {
      page lists.Page<String, Int>
    }

    verb show(Unit) Unit
      +calls lists.show<String>
  }
}
