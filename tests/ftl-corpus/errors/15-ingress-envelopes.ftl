// FTL: ingress verb ...: request type ... must be builtin.HttpRequest /
// response type ... must be builtin.HttpResponse
realm shop {
  module web {
    export verb page(builtin.Empty) builtin.Empty
      +ingress http GET /page
  }
}
