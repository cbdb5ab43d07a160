// FTL: duplicate http ingress GET /items/{} for ... and ...
realm shop {
  module web {
    export verb one(builtin.HttpRequest<Unit, String, Unit>) builtin.HttpResponse<String, String>
      +ingress http GET /items/{id}

    export verb two(builtin.HttpRequest<Unit, String, Unit>) builtin.HttpResponse<String, String>
      +ingress http GET /items/{name}
  }
}
