from __future__ import annotations

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.datastore_dsn import DsnError, parse_dsn


def test_postgres() -> None:
    assert parse_dsn("postgres://k3s:p%40ss@db1:5433/k3s?sslmode=disable") == {
        "engine": "postgresql", "user": "k3s", "password": "p@ss", "host": "db1", "port": 5433, "database": "k3s"}


def test_mysql_default_port() -> None:
    assert parse_dsn("mysql://k3s:secret@tcp(10.0.0.5)/kubernetes") == {
        "engine": "mysql", "user": "k3s", "password": "secret", "host": "10.0.0.5", "port": 3306, "database": "kubernetes"}


def test_etcd_list() -> None:
    assert parse_dsn("https://e1:2379, https://e2:2379")["endpoints"] == ["https://e1:2379", "https://e2:2379"]


@pytest.mark.parametrize("dsn, message", [
    ("", "endpoint is empty"),
    ("postgres://k3s@db1", "needs a host and a database"),
    ("mysql://k3s:x@db1:3306/k3s", "tcp(HOST:3306)"),
    ("mongodb://x", "unsupported datastore endpoint scheme 'mongodb'"),
    ("https://", "is not an etcd URL"),
])
def test_refusals(dsn: str, message: str) -> None:
    with pytest.raises(DsnError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_dsn(dsn)
