// Bare modules, as FTL's module tests write them: they belong to the
// realm of the file's project.
module todo {
  export data Task {
    title String
  }

  export verb add(todo.Task) todo.Task
    +calls audit.record
}

module audit {
  export verb record(Unit) Unit
}
