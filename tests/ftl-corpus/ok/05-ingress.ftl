// HTTP ingress: every method, the root path, path parameters bound to a
// data type, a map or a scalar, query maps, and the type optional.
realm api {
  module http {
    export data Problem {
      message String
    }

    export data ItemPath {
      shelf String
      slot Int
    }

    export data NewItem {
      name String
    }

    export data Item {
      name String
      shelf String
    }

    export verb home(builtin.HttpRequest<Unit, Unit, Unit>) builtin.HttpResponse<String, http.Problem>
      +ingress http GET /

    export verb item(builtin.HttpRequest<Unit, http.ItemPath, Unit>) builtin.HttpResponse<http.Item, http.Problem>
      +ingress http GET /shelves/{shelf}/slots/{slot}

    export verb byName(builtin.HttpRequest<Unit, String, {String: [String]}>) builtin.HttpResponse<[http.Item], http.Problem>
      +ingress http GET /items/{name}

    export verb tagged(builtin.HttpRequest<Unit, {String: String}, {String: String}>) builtin.HttpResponse<[http.Item], http.Problem>
      +ingress http GET /tags/{tag}/items/{kind}

    export verb add(builtin.HttpRequest<http.NewItem, Unit, Unit>) builtin.HttpResponse<http.Item, http.Problem>
      +ingress http POST /items

    export verb replace(builtin.HttpRequest<http.NewItem, String, Unit>) builtin.HttpResponse<http.Item, http.Problem>
      +ingress http PUT /items/{name}

    export verb remove(builtin.HttpRequest<Unit, String, Unit>) builtin.HttpResponse<Unit, http.Problem>
      +ingress DELETE /items/{name}

    export verb upload(builtin.HttpRequest<Bytes, Unit, Unit>) builtin.HttpResponse<Bytes, String>
      +ingress http POST /blobs/v1.2/raw-data
  }
}
