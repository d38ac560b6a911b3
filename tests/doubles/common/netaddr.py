"""The address a node would advertise when none is configured."""
from __future__ import annotations

import socket


def routed_ipv4() -> str | None:
    """The source address of the default IPv4 route (no packet is sent); None without one."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        finally:
            s.close()
        if ip and not ip.startswith("0."):
            return ip
    except OSError:
        pass
    return None
