"""The bridge from PostgreSQL's NOTIFY to the browsers' server-sent events."""
