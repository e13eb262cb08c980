"""The proxy variables read as Go reads them (trustcopy.proxies), with Go's own test vectors.

The vectors are those of golang.org/x/net/http/httpproxy's proxy_test.go (TestProxyForURL,
TestUseProxy, TestInvalidNoProxy, TestAllNoProxy, TestFromEnvironment*): what skopeo does
with the same variables.
"""

from __future__ import annotations

import re

import httpx
import pytest

from trustcopy.errors import ConfigError
from trustcopy.proxies import ProxyRouter, ProxySettings, routing_transport, shown


def _proxy_for(url: str, http: str = "", https: str = "", no_proxy: str = "", *, cgi: bool = False) -> str | None:
    parsed = httpx.URL(url)
    return ProxySettings(http, https, no_proxy, cgi=cgi).proxy_for(parsed.scheme, parsed.host, parsed.port)


# (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, request URL, the proxy Go picks or None)
PROXY_FOR_URL = [
    ("127.0.0.1:8080", "", "", "http://example.com", "http://127.0.0.1:8080"),
    ("cache.corp.example.com:1234", "", "", "http://example.com", "http://cache.corp.example.com:1234"),
    ("cache.corp.example.com", "", "", "http://example.com", "http://cache.corp.example.com"),
    ("localhost", "", "", "http://example.com", "http://localhost"),  # a single label reads as a scheme
    ("https://cache.corp.example.com", "", "", "http://example.com", "https://cache.corp.example.com"),
    ("http://127.0.0.1:8080", "", "", "http://example.com", "http://127.0.0.1:8080"),
    ("https://127.0.0.1:8080", "", "", "http://example.com", "https://127.0.0.1:8080"),
    ("socks5://127.0.0.1", "", "", "http://example.com", "socks5://127.0.0.1"),
    ("foo://host", "", "", "http://example.com", "foo://host"),  # unknown schemes are kept
    ("http.proxy.tld", "secure.proxy.tld", "", "http://insecure.tld/", "http://http.proxy.tld"),
    ("http.proxy.tld", "secure.proxy.tld", "", "https://secure.tld/", "http://secure.proxy.tld"),
    ("http.proxy.tld", "https://secure.proxy.tld", "", "https://secure.tld/", "https://secure.proxy.tld"),
    ("http.proxy.tld", "", "", "https://secure.tld/", None),  # HTTP_PROXY is not for https
    ("http.proxy.tld", "", "", "ftp://insecure.tld/", None),
    ("", "", "", "http://example.com", None),
    ("proxy", "", "example.com", "http://example.com/", None),
    ("proxy", "", ".example.com", "http://example.com/", "http://proxy"),
    ("proxy", "", "ample.com", "http://example.com/", "http://proxy"),
    ("proxy", "", "example.com", "http://foo.example.com/", None),
    ("proxy", "", ".foo.com", "http://example.com/", "http://proxy"),
    ("proxy", "", ".示例.com", "http://www.示例.com", None),
    ("proxy", "", "xn--fsq092h.com", "http://www.示例.com", None),
    ("proxy", "", "示例.com", "http://www.xn--fsq092h.com", None),
]


@pytest.mark.parametrize(("http", "https", "no_proxy", "url", "want"), PROXY_FOR_URL)
def test_proxy_for_url_as_go(http: str, https: str, no_proxy: str, url: str, want: str | None) -> None:
    assert _proxy_for(url, http, https, no_proxy) == want


def test_http_proxy_is_refused_in_a_cgi_environment_but_https_proxy_applies() -> None:
    with pytest.raises(ConfigError, match="refusing to use HTTP_PROXY in a CGI environment") as info:
        _proxy_for("http://example.com", "http://10.1.2.3:8080", cgi=True)
    assert info.value.code == "proxy-invalid"
    assert _proxy_for("https://secure.tld/", https="https://secure.proxy.tld", cgi=True) == "https://secure.proxy.tld"


GO_NO_PROXY = ("foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, "
               "2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64")

# (host, whether the proxy is used), for host:80
USE_PROXY = [
    ("localhost", False), ("127.0.0.1", False), ("127.0.0.2", False), ("[::1]", False), ("[::2]", True),
    ("192.168.1.1", False), ("192.168.1.2", True), ("192.168.1.3", False), ("192.168.1.4", True),
    ("10.0.0.2", False), ("[2001:db8::52:0:1]", False), ("[2001:db8::52:0:2]", True), ("[2001:db8::52:0:3]", False),
    ("[2002:db8:a::123]", False), ("[fe80::424b:c8be:1643:a1b6]", True),
    ("barbaz.net", True), ("www.barbaz.net", False), ("foobar.com", False), ("www.foobar.com", False),
    ("foofoobar.com", True), ("baz.com", True), ("localhost.net", True), ("local.localhost", True),
    ("barbarbaz.net", True), ("wildcard.io", True), ("nested.wildcard.io", False), ("awildcard.io", True),
]


@pytest.mark.parametrize(("host", "proxied"), USE_PROXY)
def test_no_proxy_matching_as_go(host: str, proxied: bool) -> None:
    assert (_proxy_for(f"http://{host}:80/", "http://proxy", no_proxy=GO_NO_PROXY) is not None) == proxied


@pytest.mark.parametrize(("host", "proxied"), USE_PROXY)
def test_no_proxy_star_means_never(host: str, proxied: bool) -> None:
    assert _proxy_for(f"http://{host}:80/", "http://proxy", no_proxy="*") is None


def test_a_malformed_no_proxy_entry_is_ignored() -> None:
    assert _proxy_for("http://example.com:80/", "http://proxy", no_proxy=":1") == "http://proxy"


def test_the_default_port_of_the_scheme_counts_for_no_proxy_ports() -> None:
    assert _proxy_for("https://registry.corp/", https="http://proxy", no_proxy="registry.corp:443") is None
    assert _proxy_for("https://registry.corp:5000/", https="http://proxy", no_proxy="registry.corp:443") == "http://proxy"


def test_ipv4_mapped_addresses_are_their_ipv4_address() -> None:
    assert _proxy_for("http://[::ffff:127.0.0.9]/", "http://proxy") is None  # loopback
    assert _proxy_for("http://[::ffff:10.0.0.1]/", "http://proxy", no_proxy="10.0.0.0/8") is None


@pytest.mark.parametrize(
    ("environ", "want"),
    [
        ({"HTTP_PROXY": "httpproxy", "HTTPS_PROXY": "httpsproxy", "NO_PROXY": "noproxy"},
         ("http://httpproxy", "http://httpsproxy", False)),
        ({"http_proxy": "httpproxy", "https_proxy": "httpsproxy", "no_proxy": "noproxy"},
         ("http://httpproxy", "http://httpsproxy", False)),
        ({"HTTP_PROXY": "upper", "http_proxy": "lower"}, ("http://upper", None, False)),  # Go: upper case first
        ({"HTTP_PROXY": "", "http_proxy": "lower"}, ("http://lower", None, False)),  # empty is unset
        ({"HTTP_PROXY": "httpproxy", "REQUEST_METHOD": "PUT"}, ("http://httpproxy", None, True)),
        ({"ALL_PROXY": "socks5://127.0.0.1:1080", "all_proxy": "http://p"}, (None, None, False)),  # Go ignores it
    ],
)
def test_from_environment_as_go(environ: dict[str, str], want: tuple[str | None, str | None, bool]) -> None:
    settings = ProxySettings.from_environment(environ)
    assert (settings.http, settings.https, settings.cgi) == want


def test_a_value_that_is_no_url_is_ignored_with_a_warning_that_masks_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = ProxySettings.from_environment({"HTTPS_PROXY": "user:s3cret@bad host:x"})
    assert settings.https is None
    assert "ignoring HTTPS_PROXY=***@bad host:x: not a proxy URL" in caplog.text
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize(
    ("proxy", "masked"),
    [
        ("http://user:pass@proxy:3128", "http://***@proxy:3128"),
        ("socks5://token@h:1080", "socks5://***@h:1080"),
        ("u:p@w@host:1", "***@host:1"),
        ("http://proxy:3128", "http://proxy:3128"),
    ],
)
def test_shown_masks_credentials(proxy: str, masked: str) -> None:
    assert shown(proxy) == masked


class _Recorder(httpx.BaseTransport):
    def __init__(self, proxy: str | None, seen: list[tuple[str | None, str]], closed: list[str | None]) -> None:
        self.proxy, self.seen, self.closed = proxy, seen, closed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((self.proxy, str(request.url)))
        return httpx.Response(200)

    def close(self) -> None:
        self.closed.append(self.proxy)


def test_without_proxy_variables_the_transport_is_the_plain_one() -> None:
    made: list[str | None] = []

    def make(proxy: str | None) -> httpx.BaseTransport:
        made.append(proxy)
        return httpx.MockTransport(lambda r: httpx.Response(204))

    transport = routing_transport(make, {"NO_PROXY": "example.com", "ALL_PROXY": "socks5://x:1"})
    assert not isinstance(transport, ProxyRouter)
    assert made == [None]


def test_each_request_goes_where_go_would_send_it_one_pool_per_proxy() -> None:
    seen: list[tuple[str | None, str]] = []
    closed: list[str | None] = []
    environ = {"HTTP_PROXY": "http://proxy:3128", "HTTPS_PROXY": "http://sproxy:3128", "NO_PROXY": "10.0.0.0/8"}
    transport = routing_transport(lambda proxy: _Recorder(proxy, seen, closed), environ)
    assert isinstance(transport, ProxyRouter)
    with httpx.Client(transport=transport) as client:
        for url in ("http://localhost:5000/v2/", "http://127.0.0.5/v2/", "http://[::1]:5000/v2/",
                    "http://10.1.2.3/v2/", "http://registry.corp/v2/", "https://registry.corp/v2/",
                    "https://auth.corp/token"):
            client.get(url)
    assert seen == [
        (None, "http://localhost:5000/v2/"), (None, "http://127.0.0.5/v2/"), (None, "http://[::1]:5000/v2/"),
        (None, "http://10.1.2.3/v2/"), ("http://proxy:3128", "http://registry.corp/v2/"),
        ("http://sproxy:3128", "https://registry.corp/v2/"), ("http://sproxy:3128", "https://auth.corp/token"),
    ]
    assert sorted(closed, key=str) == sorted([None, "http://proxy:3128", "http://sproxy:3128"], key=str)


def test_a_proxy_httpx_cannot_use_is_a_configuration_error_naming_it_masked() -> None:
    def make(proxy: str | None) -> httpx.BaseTransport:
        return httpx.HTTPTransport(proxy=proxy)

    for proxy, needle in (
        ("socks5://u:secret@127.0.0.1:1080", "is a SOCKS proxy, which needs the Python package socksio"),
        ("foo://u:secret@host", "unsupported proxy scheme in foo://***@host"),
    ):
        transport = routing_transport(make, {"HTTPS_PROXY": proxy})
        with httpx.Client(transport=transport) as client, pytest.raises(ConfigError, match=re.escape(needle)) as info:
            client.get("https://registry.corp/v2/")
        assert info.value.code == "proxy-invalid"
        assert "secret" not in str(info.value)


def test_a_proxy_that_cannot_be_reached_is_named_in_the_error_masked() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    transport = routing_transport(lambda proxy: httpx.MockTransport(refuse), {"HTTPS_PROXY": "http://u:secret@p:3128"})
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as info:
        client.get("https://registry.corp/v2/")
    assert str(info.value) == "[Errno 111] Connection refused (through the proxy http://***@p:3128)"
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as info:
        client.get("https://localhost/v2/")  # direct: the error is the connection's own
    assert str(info.value) == "[Errno 111] Connection refused"
