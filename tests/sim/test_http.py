"""The loopback HTTP server: routing, query parsing, headers, clean shutdown."""

from __future__ import annotations

import requests

from connectivity.sim.http import HttpRequest, HttpResponse, HttpServer, json_response


def test_routes_requests_with_query_and_headers_and_404s_unknown_paths() -> None:
    seen: list[HttpRequest] = []

    def depth(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return json_response({"symbol": request.query["symbol"]}, headers=[("X-Test", "1")])

    server = HttpServer()
    server.route("GET", "/api/v3/depth", depth)
    server.start()
    try:
        with requests.Session() as session:
            ok = session.get(server.url("/api/v3/depth?symbol=BTCUSDT&limit=5"), timeout=5)
            missing = session.get(server.url("/nope"), timeout=5)
        assert ok.status_code == 200
        assert ok.json() == {"symbol": "BTCUSDT"}
        assert ok.headers["X-Test"] == "1"
        assert seen[0].query == {"symbol": "BTCUSDT", "limit": "5"}
        assert "user-agent" in seen[0].headers
        assert missing.status_code == 404
        assert server.requests_served == 2
    finally:
        server.close()


def test_custom_status_is_sent_with_its_reason_phrase() -> None:
    server = HttpServer()
    server.route("POST", "/x", lambda r: HttpResponse(429, r.body, (("Retry-After", "3"),)))
    with server:
        response = requests.post(server.url("/x"), data=b"abc", timeout=5)
    assert response.status_code == 429
    assert response.reason == "Too Many Requests"
    assert response.content == b"abc"
    assert response.headers["Retry-After"] == "3"
