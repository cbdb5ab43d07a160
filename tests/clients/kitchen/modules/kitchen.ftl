// Every form a type can take, for the client generators' tests.
module kitchen {
  // Everything a field can be.
  export realm data Everything {
    int Int
    float Float
    string String
    bytes Bytes
    bool Bool
    time Time
    any Any
    unit Unit
    list [String]
    nested [[Int]]
    map {String: Int}
    intMap {Int: String}
    enumMap {kitchen.Color: Int}
    optional String?
    missing String?
    optionals [String?]
    item kitchen.Item
    items [kitchen.Item]
    page kitchen.Page<kitchen.Item>
    pair kitchen.Pair<String, Int>
    color kitchen.Color
    level kitchen.Level
    shape kitchen.Shape
    shapes [kitchen.Shape]
    sku kitchen.Sku
    tags kitchen.Tags
    // A field whose JSON name is not its name.
    label String +alias json "display-name"
    type String
    node kitchen.Node
    stamp other.Stamp
    empty builtin.Empty
  }

  export realm data Item {
    sku kitchen.Sku
    quantity Int
  }

  // A page of anything.
  export realm data Page<T> {
    items [T]
    next String?
  }

  export realm data Pair<K, V> {
    key K
    value V
  }

  export realm enum Color: String {
    Red = "red"
    // Not red.
    Green = "green"
  }

  export realm enum Level: Int {
    LEVEL_LOW = 1
    LEVEL_HIGH = 2
  }

  // A type enum: one of these.
  export realm enum Shape {
    Circle Float
    Label String
    Square kitchen.Square
    Big kitchen.Item
    Corners [Int]
    When Time
    Maybe String?
    Tone kitchen.Color
  }

  export realm data Square {
    side Float
  }

  export realm typealias Sku String

  export realm typealias Tags {String: [String]}

  // A tree.
  export realm data Node {
    name String
    children [kitchen.Node]
    next kitchen.Node?
  }

  // Answers what it is sent.
  export realm verb echo(kitchen.Everything) kitchen.Everything

  export realm verb echoPage(kitchen.Page<kitchen.Item>) kitchen.Page<kitchen.Item>

  export realm verb echoShape(kitchen.Shape) kitchen.Shape

  export realm verb echoLevels([kitchen.Level]) [kitchen.Level]

  export realm verb echoTime(Time) Time

  // Answers levels by name, as protobuf's JSON mapping writes them.
  export realm verb levelNames(Unit) [kitchen.Level]

  export realm verb ping(Unit) Unit

  // Always fails.
  export realm verb fail(kitchen.Item) Unit

  export realm verb delete(kitchen.Item) kitchen.Item
}

module other {
  export realm data Stamp {
    at Time
    by String
  }
}
