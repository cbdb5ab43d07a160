// What FTL records about where a module came from.
realm build {
  // Built from a dirty work tree.
  module echo {
    +git "https://git.example.com/echo.git" "5c2f1d0e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d" dirty
    +artefact "bin/echo" "8f14e45fceea167a5a36dedd4bea2543a0c3b8d3f0e1a2b3c4d5e6f708192a3b" executable
    +artefact "config.json" "aa14e45fceea167a5a36dedd4bea2543a0c3b8d3f0e1a2b3c4d5e6f708192a3b"
    +image "registry.example.com/echo":"sha256:1e2a2d3ba82b0c2e2b9634f3de4bac59373c7e0a472be8f1616aab1e4c8a9167"
    export verb echo(String) String
  }

  module clean {
    +git "https://git.example.com/clean.git" "0123456789abcdef0123456789abcdef01234567"
    verb noop(Unit) Unit
  }
}
