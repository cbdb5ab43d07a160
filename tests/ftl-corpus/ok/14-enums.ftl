// Value enums of strings and integers, type enums, enums over an alias.
realm catalog {
  module kinds {
    typealias Code String

    // How a book is bound.
    export enum Binding: String {
      // A hard cover.
      Hardcover = "hard"
      Paperback = "paper"
    }

    export enum Rating: Int {
      Bad = 0
      Good = 1
      Great = 2
    }

    enum Region: kinds.Code {
      Europe = "eu"
      Asia = "as"
    }

    // A value of one of these types.
    enum Field {
      Text String
      Numbers [Int]
      Nested kinds.Binding
      Pair {String: Int}
    }

    enum Single {
      Only String
    }

    // FTL's grammar also reads `=` before a variant's type.
    enum Assigned {
      Text = String
      List = [Int]
    }
  }
}
