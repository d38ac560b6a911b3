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
        try:
            port = parts.port or 5432
        except ValueError:
            raise DsnError("the port is not a number from 1 to 65535 (a ':' in the password must be written %3A)") from None
        return {"engine": "postgresql", "user": unquote(parts.username or ""), "password": unquote(parts.password or ""),
                "host": parts.hostname, "port": port, "database": parts.path.strip("/")}
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
            try:
                parts.port
            except ValueError:
                raise DsnError("%r: the port is not a number from 1 to 65535" % endpoint) from None
        return {"engine": "etcd", "endpoints": endpoints}
    scheme = dsn.split("://", 1)[0] if "://" in dsn else dsn
    raise DsnError("unsupported datastore endpoint scheme %r; use postgres://, mysql:// or https:// (etcd)" % scheme)


def mask_dsn(dsn: str) -> str:
    """The endpoint with its password replaced by ****, fit for a message."""
    text = str(dsn or "").strip()
    if "://" not in text:
        return text
    scheme, rest = text.split("://", 1)
    marker = "@tcp(" if scheme == "mysql" and "@tcp(" in rest else "@"
    userinfo, sep, tail = rest.rpartition(marker)
    if not sep or ":" not in userinfo:
        return text
    return f"{scheme}://{userinfo.split(':', 1)[0]}:****{marker}{tail}"


def dsn_problems(dsn: str, needs_credentials: bool = True) -> list[str]:
    """What is wrong with an external datastore endpoint, each problem with its fix; [] when it is usable.

    The endpoint is shown with its password masked. ``needs_credentials``: the user and password must be there
    (the datastore role creates that user; K3s logs in with it).
    """
    shown = mask_dsn(dsn)
    text = str(dsn or "").strip()
    if text.startswith(("postgres://", "postgresql://")) and "@" in text:
        # K3s parses the URL with Go's net/url, which refuses these characters unencoded in the user info.
        userinfo = text.split("://", 1)[1].rpartition("@")[0]
        bad = sorted({c for c in "@/#?" if c in userinfo})
        if bad:
            codes = {"@": "%40", "/": "%2F", "#": "%23", "?": "%3F"}
            return [f"{shown}: the user or password holds {', '.join(repr(c) for c in bad)}, which a URL does not "
                    "allow there unencoded; percent-encode "
                    + ", ".join(f"{c} as {codes[c]}" for c in bad) + " (and % itself as %25)"]
    try:
        parts = parse_dsn(dsn)
    except DsnError as exc:
        return [f"{shown}: {exc}"]
    problems: list[str] = []
    if parts["engine"] in ("postgresql", "mysql"):
        port = parts.get("port")
        if isinstance(port, int) and not 1 <= port <= 65535:
            problems.append(f"{shown}: port {port} is not a number from 1 to 65535")
        if needs_credentials and (not parts.get("user") or not parts.get("password")):
            problems.append(f"{shown}: the user and the password are missing; K3s logs in with them and the "
                            "datastore role creates that user, so write USER:PASSWORD@ before the host")
    return problems
