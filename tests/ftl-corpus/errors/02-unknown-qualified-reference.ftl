// FTL: unknown reference "staff.Clerk", is the type annotated and exported?
realm shop {
  module till {
    data Shift {
      clerk staff.Clerk
      drawer till.Drawr
    }

    data Drawer {
    }
  }
}
