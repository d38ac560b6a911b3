# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse the K3s datastore-endpoint forms into their parts.

K3s (through Kine) accepts ``postgres://user:pass@host:port/db``,
``mysql://user:pass@tcp(host:port)/db`` and a comma-separated list of etcd
URLs. The datastore role provisions exactly what the endpoint names, so the
endpoint is the one place the user writes the credentials.
"""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit


class DsnError(ValueError):
    """The endpoint is not one of the forms K3s accepts."""


_MYSQL = re.compile(r"^mysql://(?:(?P<user>[^:@/]*)(?::(?P<password>[^@]*))?@)?tcp\((?P<host>[^:)]+)(?::(?P<port>\d+))?\)/(?P<db>[^?]*)(?:\?.*)?$")


def parse_dsn(dsn: str) -> dict[str, object]:
    """Return engine, user, password, host, port, database (etcd: endpoints)."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise DsnError("the datastore endpoint is empty; set cluster_datastore_endpoint, for example "
                       "postgres://k3s:SECRET@db.example.net:5432/k3s")
    dsn = dsn.strip()
    if dsn.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(dsn)
        if not parts.hostname or not parts.path.strip("/"):
            raise DsnError("a PostgreSQL endpoint needs a host and a database: postgres://USER:PASSWORD@HOST:5432/DATABASE")
        return {"engine": "postgresql", "user": unquote(parts.username or ""), "password": unquote(parts.password or ""),
                "host": parts.hostname, "port": parts.port or 5432, "database": parts.path.strip("/")}
    if dsn.startswith("mysql://"):
        match = _MYSQL.match(dsn)
        if not match or not match.group("db"):
            raise DsnError("a MySQL/MariaDB endpoint has the form mysql://USER:PASSWORD@tcp(HOST:3306)/DATABASE")
        return {"engine": "mysql", "user": match.group("user") or "", "password": match.group("password") or "",
                "host": match.group("host"), "port": int(match.group("port") or 3306), "database": match.group("db")}
    if dsn.startswith(("https://", "http://")):
        endpoints = [e.strip() for e in dsn.split(",") if e.strip()]
        for endpoint in endpoints:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise DsnError("%r is not an etcd URL such as https://etcd1:2379" % endpoint)
        return {"engine": "etcd", "endpoints": endpoints}
    scheme = dsn.split("://", 1)[0] if "://" in dsn else dsn
    raise DsnError("unsupported datastore endpoint scheme %r; use postgres://, mysql:// or https:// (etcd)" % scheme)
