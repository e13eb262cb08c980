"""Which proxy a request goes through: the proxy variables read as Go reads them.

skopeo takes its proxy from Go's ``net/http`` (``golang.org/x/net/http/httpproxy``), and a
script that works with skopeo must reach the same hosts the same way with trustcopy.
httpx reads the variables differently, and the differences bite in real setups:

- ``ALL_PROXY`` (often ``socks5://…`` on a developer's machine) is used by httpx and
  ignored by Go; with a SOCKS URL there, httpx even fails to create a client.
- ``NO_PROXY=10.0.0.0/8`` (a CIDR, common in corporate settings) does not match in httpx.
- Go never proxies ``localhost`` or a loopback address (all of 127.0.0.0/8 and ``::1``):
  a CI runner's proxy cannot reach the registry on ``localhost:5000``.
- Go prefers ``HTTP_PROXY`` to ``http_proxy``; Python prefers the lower-case one.

So every registry and lookaside client is built with :func:`routing_transport`: it reads
the variables once, as Go does, and sends each request either directly or through the
proxy Go would pick for that URL. Without any proxy variable it is the plain transport.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping

import httpx

from trustcopy.errors import ConfigError

log = logging.getLogger(__name__)

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: What the proxy URL may be; Go's transport supports the same schemes.
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
#: ``scheme://authority``: compiled on first use (re's cache), not at import (issue 14).
_SCHEME_AND_AUTHORITY = r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)"


def _env(environ: Mapping[str, str], *names: str) -> str:
    """The first of ``names`` set to a non-empty value (Go's getEnvAny: upper case first)."""
    for name in names:
        if value := environ.get(name, ""):
            return value
    return ""


def _parse_ip(text: str) -> _IP | None:
    """An IP address as Go's net.ParseIP reads it; an IPv4-mapped IPv6 address is the IPv4 one."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            return None  # Go's ParseIP refuses zones
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
    return ip


def _split_host_port(text: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort, for NO_PROXY entries: ``host:port`` or ``[v6]:port``, else None."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1:end + 2] != ":":
            return None
        host, port = text[1:end], text[end + 2:]
        return (host, port) if "[" not in host and "]" not in text[end + 1:] else None
    if text.count(":") != 1:
        return None  # none (no port) or several (a bare IPv6 address)
    host, port = text.split(":")
    return host, port


def _ascii_host(host: str) -> str:
    """A host name in ASCII (punycode), as Go's idna lookup gives it; unchanged if it cannot be."""
    if host.isascii():
        return host
    try:  # label by label: ".示例.com" (a NO_PROXY suffix) has an empty first label
        return ".".join(label if label.isascii() else label.encode("idna").decode("ascii")
                        for label in host.split("."))
    except UnicodeError:
        return host


class ProxySettings:
    """``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY`` and ``REQUEST_METHOD``, parsed as Go parses them."""

    __slots__ = ("_domains", "_ips", "_no_proxy_all", "cgi", "http", "https")

    def __init__(self, http: str = "", https: str = "", no_proxy: str = "", *, cgi: bool = False) -> None:
        self.http = _proxy_url(http, "HTTP_PROXY")
        self.https = _proxy_url(https, "HTTPS_PROXY")
        self.cgi = cgi
        self._no_proxy_all = False
        self._ips: list[tuple[_IP | ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        self._domains: list[tuple[str, str, bool]] = []  # (".suffix", port or "", the bare name matches too)
        for entry in no_proxy.split(","):
            self._add_no_proxy(entry.strip().lower())

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ProxySettings:
        env = os.environ if environ is None else environ
        return cls(_env(env, "HTTP_PROXY", "http_proxy"), _env(env, "HTTPS_PROXY", "https_proxy"),
                   _env(env, "NO_PROXY", "no_proxy"), cgi=bool(env.get("REQUEST_METHOD")))

    @property
    def any(self) -> bool:
        """Whether any request can go through a proxy."""
        return bool(self.http or self.https) and not self._no_proxy_all

    def _add_no_proxy(self, entry: str) -> None:
        if not entry:
            return
        if entry == "*":
            self._no_proxy_all = True
            return
        if re.fullmatch(r"[0-9a-f:.]+/[0-9]{1,3}", entry):  # IPv4/CIDR, IPv6/CIDR
            try:
                self._ips.append((ipaddress.ip_network(entry, strict=False), ""))
                return
            except ValueError:
                pass
        split = _split_host_port(entry)
        host, port = split if split is not None else (entry, "")
        if split is not None and not host:
            return  # ":1": malformed, ignored as Go ignores it
        ip = _parse_ip(host)
        if ip is not None:
            self._ips.append((ip, port))
            return
        if not host:
            return
        if host.startswith("*."):
            host = host[1:]
        bare = not host.startswith(".")
        self._domains.append((_ascii_host("." + host if bare else host), port, bare))

    def proxy_for(self, scheme: str, host: str, port: int | None) -> str | None:
        """The proxy URL for a request, or None to connect directly (Go's proxyForURL).

        Raises:
            ConfigError: ``HTTP_PROXY`` would apply to an ``http`` request in a CGI
                environment, where a client may have set it (golang.org/s/cgihttpproxy).
        """
        if scheme == "https":
            proxy = self.https
        elif scheme == "http":
            proxy = self.http
            if proxy and self.cgi:
                raise ConfigError("refusing to use HTTP_PROXY in a CGI environment (REQUEST_METHOD is set)",
                                  code="proxy-invalid", hint="see golang.org/s/cgihttpproxy")
        else:
            proxy = None
        if not proxy or not self._use_proxy(host, port or _DEFAULT_PORTS.get(scheme, 0)):
            return None
        return proxy

    def _use_proxy(self, host: str, port: int) -> bool:
        if self._no_proxy_all or host == "localhost":
            return False
        host = _ascii_host(host.strip("[]"))
        ip = _parse_ip(host)
        if ip is not None and ip.is_loopback:
            return False
        name, port_text = host.lower(), str(port)
        if ip is not None:
            for match, want_port in self._ips:
                hit = ip in match if isinstance(match, ipaddress.IPv4Network | ipaddress.IPv6Network) else ip == match
                if hit and (not want_port or want_port == port_text):
                    return False
        for suffix, want_port, bare in self._domains:
            if (name.endswith(suffix) or (bare and name == suffix[1:])) and (not want_port or want_port == port_text):
                return False
        return True


def _proxy_url(value: str, variable: str) -> str | None:
    """A proxy variable's value as a URL (Go's parseProxy: ``host:port`` means ``http://host:port``).

    A value that is no URL even with ``http://`` is ignored, as Go ignores it, with a
    warning (Go says nothing), so that a typo does not silently send traffic direct.
    """
    if not value:
        return None
    match = re.match(_SCHEME_AND_AUTHORITY, value)
    url = value if match and match.group(2).rpartition("@")[2] else f"http://{value}"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or not parsed.host:
        log.warning("ignoring %s=%s: not a proxy URL", variable, shown(value))
        return None
    if parsed.userinfo:
        from urllib.parse import unquote

        from trustcopy.redact import register_basic

        # httpx sends them as ``Proxy-Authorization: Basic …``; a proxy echoing that value
        # (a 407's reason phrase, chained under our error in --debug) must not print it.
        user, _, password = parsed.userinfo.decode("ascii", "replace").partition(":")
        register_basic(unquote(user), unquote(password))
    return url


def shown(proxy: str) -> str:
    """A proxy URL fit for a message: its credentials (``user:password@``) masked, however malformed."""
    from trustcopy.redact import MASK, redact_url

    head, at, tail = proxy.rpartition("@")
    if at:
        scheme = head.partition("://")[0] + "://" if "://" in head else ""
        proxy = f"{scheme}{MASK}@{tail}"
    if "?" in proxy:  # a query (Go ignores it) may carry a token=: masked as in any URL we print
        proxy = redact_url(proxy)
    return proxy


class ProxyRouter(httpx.BaseTransport):
    """A transport that sends each request directly or through its proxy, as :class:`ProxySettings` says.

    One inner transport (connection pool) per proxy URL, made on first use by ``make``.
    """

    def __init__(self, settings: ProxySettings, make: Callable[[str | None], httpx.BaseTransport]) -> None:
        self._settings = settings
        self._make = make
        self._lock = threading.Lock()
        self._transports: dict[str | None, httpx.BaseTransport] = {}
        self._said: set[tuple[str, str, int | None]] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        proxy = self._settings.proxy_for(url.scheme, url.host, url.port)
        key = (url.scheme, url.host, url.port)
        if key not in self._said:
            self._said.add(key)
            log.debug("%s://%s: %s", url.scheme, url.netloc.decode("ascii", "replace"),
                      f"through the proxy {shown(proxy)}" if proxy else "direct (no proxy)")
        transport = self._transport(proxy)
        if proxy is None:
            return transport.handle_request(request)
        try:
            return transport.handle_request(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError) as exc:
            # "Connection refused" alone would send the user looking at the registry.
            raise type(exc)(f"{exc} (through the proxy {shown(proxy)})", request=request) from exc

    def _transport(self, proxy: str | None) -> httpx.BaseTransport:
        with self._lock:
            transport = self._transports.get(proxy)
            if transport is None:
                transport = self._transports[proxy] = _checked(self._make, proxy)
            return transport

    def close(self) -> None:
        with self._lock:
            transports = list(self._transports.values())
            self._transports.clear()
        for transport in transports:
            transport.close()


def _checked(make: Callable[[str | None], httpx.BaseTransport], proxy: str | None) -> httpx.BaseTransport:
    """``make(proxy)``, with a proxy httpx cannot use reported as a configuration error."""
    if proxy is None:
        return make(None)
    masked = shown(proxy)
    scheme = proxy.partition("://")[0].lower()
    if scheme not in _PROXY_SCHEMES:
        raise ConfigError(f"unsupported proxy scheme in {masked} (use http, https or socks5)", code="proxy-invalid",
                          context={"proxy": masked})
    try:
        return make(proxy)
    except ImportError:  # httpx needs socksio for SOCKS proxies; it is not a default dependency
        raise ConfigError(f"the proxy {masked} is a SOCKS proxy, which needs the Python package socksio",
                          code="proxy-invalid", hint="pip install socksio", context={"proxy": masked}) from None


def routing_transport(make: Callable[[str | None], httpx.BaseTransport],
                      environ: Mapping[str, str] | None = None) -> httpx.BaseTransport:
    """The transport for a client: ``make(None)`` when no proxy applies, else a :class:`ProxyRouter`.

    ``make(proxy)`` builds one connection pool (``httpx.HTTPTransport(..., proxy=proxy)``)
    with the caller's TLS and pool settings; httpx's own reading of the proxy variables is
    off whenever a transport is given.
    """
    settings = ProxySettings.from_environment(environ)
    if not settings.any and not (settings.cgi and settings.http):
        return make(None)
    return ProxyRouter(settings, make)
