"""Real services for tests: a loopback OpenSSH server, a PostgreSQL cluster, ODBC DSNs (issue 3)."""
