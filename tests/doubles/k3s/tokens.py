"""K3s token format (K3s pkg/clientaccess/token.go parseToken)."""
import re
import secrets

PREFIX = "K10"


class TokenError(Exception):
    pass


class Token:
    def __init__(self, ca_hash, username, password):
        self.ca_hash = ca_hash
        self.username = username
        self.password = password

    def secure(self, ca_hash, username="server"):
        return "%s%s::%s:%s" % (PREFIX, ca_hash, username, self.password)


def parse(raw):
    if raw is None or raw == "":
        raise TokenError("token must not be empty")
    if not raw.startswith(PREFIX):
        return Token("", "", raw)
    body = raw[len(PREFIX):]
    parts = body.split("::", 1)
    if len(parts) != 2:
        raise TokenError("invalid token format")
    ca_hash, creds = parts
    if len(ca_hash) != 64:
        raise TokenError("invalid token CA hash length")
    if not re.match(r"^[0-9a-fA-F]{64}$", ca_hash):
        raise TokenError("invalid token format")
    if not creds:
        raise TokenError("invalid token format")
    user, sep, pw = creds.partition(":")
    if not sep:
        user, pw = "", creds
    return Token(ca_hash.lower(), user, pw)


def random_password():
    return secrets.token_hex(16)
