// FTL: invalid name: must consist of only letters, numbers and
// underscores, and start with a lowercase letter.
realm shop {
  module news {
    data Story {
    }

    topic Headlines news.Story
  }
}
