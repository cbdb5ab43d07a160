// References without a module resolve in the module they are written in,
// or in the builtin module, as FTL resolves them.
realm plain {
  module todo {
    topic changes Change

    data Change {
      item Item
    }

    data Item {
      title String
      done Bool
    }

    verb add(Item) Item
      +calls notify
      +publish changes

    verb notify(Item) Unit

    verb watch(Change) Unit
      +subscribe changes from=latest
      +retry 3 1s catch failed

    verb failed(CatchRequest<Change>) Unit

    verb nothing(Empty) Empty
  }
}
