"""Which webhook URLs may be stored: the SSRF guard's rules, applied when a URL is set.

`check_url` refuses bad schemes, credentials, ports, forbidden IP literals and local names;
then the host name is resolved and refused if any address is loopback, private, link-local,
metadata and the like. A name that does not resolve now is accepted: it may be set up later,
and every delivery goes through the same guard at connect time anyway. With
ZAPHUB_WEBHOOK_ALLOW_PRIVATE=true only the first, address-independent checks apply.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from zaphubd.errors import ValidationFailed
from zaphubd.netguard import UrlRefused, check_url, forbidden_reason

RESOLVE_TIMEOUT_S = 3.0


class WebhookUrlPolicy:
    def __init__(self, *, allow_private: bool, resolve_timeout_s: float = RESOLVE_TIMEOUT_S):
        self._allow_private = allow_private
        self._resolve_timeout_s = resolve_timeout_s

    async def check(self, url: str, field: str = "webhook_url") -> None:
        """Raise ValidationFailed (a 400 naming `field`) if `url` may not receive webhooks."""
        try:
            parsed = check_url(url, allow_private=self._allow_private)
        except UrlRefused as err:
            raise _refused(field, str(err)) from None
        host = parsed.host or ""
        if self._allow_private or _is_literal(host):
            return  # a literal address was judged by check_url already
        for address in await self._resolve(host):
            reason = forbidden_reason(ipaddress.ip_address(address))
            if reason is not None:
                raise _refused(field, f"{host} resolves to a forbidden address ({reason})")

    async def _resolve(self, host: str) -> set[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._resolve_timeout_s):
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError):
            return set()
        # Strip an IPv6 zone ("fe80::1%eth0") before parsing; the address decides alone.
        return {str(info[4][0]).split("%", 1)[0] for info in infos}


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _refused(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed(f"{field} refused: {reason}", {field: [reason]})
