"""Database access: URLs, engines, sessions, the embedded cluster and migrations."""
