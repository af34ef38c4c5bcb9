"""The recordings and events index: one SQLite file (WAL) in the storage folder."""
