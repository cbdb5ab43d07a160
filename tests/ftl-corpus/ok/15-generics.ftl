// Generic data, nested type arguments, and builtin types named bare as
// FTL resolves them.
realm paging {
  module pages {
    export data Page<T> {
      items [T]
      next String?
    }

    export data Pair<K, V> {
      key K
      value V
    }

    export data Shelf {
      books pages.Page<pages.Pair<String, [Int]>>
    }

    export verb list(HttpRequest<Unit, Unit, {String: String}>) HttpResponse<pages.Page<pages.Shelf>, String>
      +ingress http GET /shelves

    verb first(pages.Page<Empty>) Empty
  }
}
