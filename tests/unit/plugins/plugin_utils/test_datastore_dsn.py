from __future__ import annotations

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.datastore_dsn import DsnError, dsn_problems, mask_dsn, parse_dsn


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


@pytest.mark.parametrize("dsn, shown", [
    ("postgres://k3s:s3cret@db:5432/k3s", "postgres://k3s:****@db:5432/k3s"),
    ("postgres://k3s:p@ss/w@db:5432/k3s", "postgres://k3s:****@db:5432/k3s"),
    ("mysql://k3s:pa@ss@tcp(db:3306)/k3s", "mysql://k3s:****@tcp(db:3306)/k3s"),
    ("https://etcd1:2379,https://etcd2:2379", "https://etcd1:2379,https://etcd2:2379"),
    ("postgres://db:5432/k3s", "postgres://db:5432/k3s"),
])
def test_mask_hides_the_password(dsn: str, shown: str) -> None:
    assert mask_dsn(dsn) == shown


@pytest.mark.parametrize("dsn", [
    "postgres://k3s:s3cret@db.example.net:5432/k3s", "postgresql://k3s:p%40ss@10.0.0.5/k3s",
    "mysql://k3s:s3cret@tcp(db:3306)/k3s", "https://etcd1:2379,https://etcd2:2379,https://etcd3:2379",
])
def test_usable_endpoints_have_no_problems(dsn: str) -> None:
    assert dsn_problems(dsn) == []


@pytest.mark.parametrize("dsn, message", [
    ("redis://k3s:s3cret@db:6379/0", "unsupported datastore endpoint scheme 'redis'"),
    ("postgres://k3s:s3cret@db:5432/", "needs a host and a database"),
    ("postgres://k3s:s3cret@:5432/k3s", "needs a host and a database"),
    ("postgres://db:5432/k3s", "the user and the password are missing"),
    ("postgres://k3s@db:5432/k3s", "the user and the password are missing"),
    ("postgres://k3s:p@ss@db:5432/k3s", "the user or password holds '@', which a URL does not allow there unencoded; "
                                        "percent-encode @ as %40"),
    ("postgres://k3s:p/ss#x@db:5432/k3s", "holds '#', '/'"),
    ("postgres://k3s:s3cret@db:99999/k3s", "the port is not a number from 1 to 65535"),
    ("postgres://k3s:s3cret@db:port/k3s", "the port is not a number from 1 to 65535"),
    ("mysql://k3s:s3cret@tcp(db:70000)/k3s", "port 70000 is not a number from 1 to 65535"),
    ("mysql://k3s:s3cret@db:3306/k3s", "has the form mysql://USER:PASSWORD@tcp(HOST:3306)/DATABASE"),
    ("mysql://tcp(db:3306)/k3s", "the user and the password are missing"),
    ("https://etcd1:99999", "the port is not a number from 1 to 65535"),
])
def test_problems_say_what_and_how_to_fix_without_the_password(dsn: str, message: str) -> None:
    problems = dsn_problems(dsn)
    assert any(message in p for p in problems), problems
    assert not any("s3cret" in p for p in problems)
