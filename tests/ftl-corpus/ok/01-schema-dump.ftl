realm library {
  // Types every module sees.
  builtin module builtin {
    // The request of a verb that catches failures.
    export data CatchRequest<Req> {
      verb builtin.Ref
      request Req
      requestType String
      error String
    }
  
    export data Empty {
    }
  
    // What a dead-letter topic carries.
    export data FailedEvent<Event> {
      event Event
      error String
    }
  
    // An HTTP request as an ingress verb receives it.
    export data HttpRequest<Body, Path, Query> {
      method String
      path String
      pathParameters Path
      query Query
      headers {String: [String]}
      body Body
    }
  
    // An HTTP response as an ingress verb gives it.
    export data HttpResponse<Body, Error> {
      status Int
      headers {String: [String]}
      // The body, or the error.
      body Body?
      error Error?
    }
  
    // Names a declaration.
    export data Ref {
      module String
      name String
    }
  }
  
  module catalog {
    config region String 
    secret apiToken String
  
    export data Book {
      isbn String +alias json "isbn"
      title String
      authors [String]
    }
  
    export data BookQuery {
      isbn String
    }
  
    export data SearchResult {
      books [catalog.Book]
    }
  
    export verb book(builtin.HttpRequest<Unit, catalog.BookQuery, Unit>) builtin.HttpResponse<catalog.Book, String>  
      +ingress http GET /books/{isbn}
  
    export verb search(builtin.HttpRequest<Unit, Unit, {String: [String]}>) builtin.HttpResponse<catalog.SearchResult, String>
      +ingress http GET /books
      +secrets catalog.apiToken
      +config catalog.region
  }
  
  module loans {
    export data Loan {
      isbn String
      member String
      due Time
    }
  
    // Lends a book.
    export verb lend(loans.Loan) loans.Loan
      +calls catalog.book
  }
}

