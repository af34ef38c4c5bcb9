"""The HTTP API: questions over the recordings, and hits' clips and snapshots by id."""
