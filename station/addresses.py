"""Where a station's server is reached from other PCs. A server bound to every address (0.0.0.0, ::) says so in
its start line, which tells the line engineer nothing to type into a panel PC or a PLC: `elsewhere` lists this
PC's name and its network addresses instead (psutil: the interfaces that are up; loopback and link-local left
out, as no other PC reaches them)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Optional

WILDCARDS = ("0.0.0.0", "::", "")  # every address of this PC (IPv4, IPv6, uvicorn's and asyncio's empty host)
MAX_SHOWN = 4  # addresses named in a start line: a PC with docker bridges has many


def is_wildcard(host: str) -> bool:
    return host.strip("[]") in WILDCARDS


def this_pc_addresses(ipv6: bool = False) -> list[str]:
    """This PC's addresses that other PCs can reach (IPv4; IPv6 too with `ipv6`), interfaces that are up, in
    the order the system lists them."""
    import psutil

    up = {name for name, stats in psutil.net_if_stats().items() if stats.isup}
    families = (socket.AF_INET, socket.AF_INET6) if ipv6 else (socket.AF_INET,)
    found: list[str] = []
    for name, addresses in psutil.net_if_addrs().items():
        if name not in up:
            continue
        for address in addresses:
            if address.family not in families:
                continue
            try:
                ip = ipaddress.ip_address(address.address.split("%")[0])
            except ValueError:
                continue
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified) and str(ip) not in found:
                found.append(str(ip))
    return found


def elsewhere(host: str, port: int, scheme: str = "http", path: str = "",
              addresses: Optional[list[str]] = None) -> str:
    """For a server bound to every address: "; from other PCs: http://NAME:PORT/ or http://IP:PORT/" (NAME:PORT
    without a `scheme`: Modbus); "" for one bound to a given address (its start line names it already).
    `addresses`: this PC's (tests)."""
    if not is_wildcard(host):
        return ""
    addresses = this_pc_addresses(ipv6=":" in host) if addresses is None else addresses
    names = [socket.gethostname()] + addresses[:MAX_SHOWN]
    prefix = f"{scheme}://" if scheme else ""
    urls = [f"{prefix}{f'[{name}]' if ':' in name else name}:{port}{path}" for name in names if name]
    more = f" (and {len(addresses) - MAX_SHOWN} more addresses)" if len(addresses) > MAX_SHOWN else ""
    return f"; from other PCs: {' or '.join(urls)}{more}"


__all__ = ["WILDCARDS", "elsewhere", "is_wildcard", "this_pc_addresses"]
