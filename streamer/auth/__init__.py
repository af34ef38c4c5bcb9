"""Users of the API and the console: who they are (roles, the cameras a viewer may see), their passwords (scrypt),
sessions with their CSRF tokens, API tokens, and the login rate limit. Stored in `<storage_dir>/users.sqlite3`."""
