// FTL: unexpected token (a path that is not FTL's: a parameter inside a
// segment)
realm shop {
  module web {
    export verb one(builtin.HttpRequest<Unit, String, Unit>) builtin.HttpResponse<String, String>
      +ingress http GET /items/id-{id}
  }
}
