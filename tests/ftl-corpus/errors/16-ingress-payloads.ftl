// FTL: GET request type ... must have a body of unit / must have a body of
// bytes, string, data structure, ... not Any / path parameter errors
realm shop {
  module web {
    export data Path {
      id String
    }

    export verb withBody(builtin.HttpRequest<String, Unit, Unit>) builtin.HttpResponse<String, String>
      +ingress http GET /with-body

    export verb anyBody(builtin.HttpRequest<Any, Unit, Unit>) builtin.HttpResponse<Time, String>
      +ingress http POST /any

    export verb twoParams(builtin.HttpRequest<Unit, String, Unit>) builtin.HttpResponse<String, String>
      +ingress http GET /a/{first}/{second}

    export verb missing(builtin.HttpRequest<Unit, web.Path, Unit>) builtin.HttpResponse<String, String>
      +ingress http GET /b/{code}

    export verb noParams(builtin.HttpRequest<Unit, web.Path, Unit>) builtin.HttpResponse<String, String>
      +ingress http GET /c

    export verb badQuery(builtin.HttpRequest<Unit, Unit, {String: Int}>) builtin.HttpResponse<String, String>
      +ingress http GET /d
  }
}
