# SPDX-License-Identifier: MIT
"""CSRF protection for the dashboard's HTML forms. starlette-csrf does the
checking (a signed double-submit token: cookie and request must carry the
same one); it reads the token from a header, so this layer copies a form's
`csrftoken` field into that header, and makes the token known to the page
that is rendered before the browser has the cookie."""

import http.cookies
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette_csrf import CSRFMiddleware

FIELD = "csrftoken"
MAX_FORM = 64 * 1024


class FormCSRFMiddleware(CSRFMiddleware):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        headers = dict(scope["headers"])
        state = scope.setdefault("state", {})
        cookie = http.cookies.SimpleCookie()
        try:
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        except http.cookies.CookieError:
            pass
        if self.cookie_name not in cookie:
            state["csrftoken"] = self._generate_csrf_token()
        else:
            state["csrftoken"] = cookie[self.cookie_name].value
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip()
        if scope["method"] not in self.safe_methods and ctype == b"application/x-www-form-urlencoded":
            body, more = b"", True
            while more:
                msg = await receive()
                body += msg.get("body", b"")
                more = msg.get("more_body", False)
                if len(body) > MAX_FORM:
                    body, more = b"", False
            token = parse_qs(body.decode("latin-1")).get(FIELD, [""])[0]
            if token and self.header_name.encode() not in headers:
                scope = dict(scope)
                scope["headers"] = list(scope["headers"]) + [(self.header_name.encode(),
                                                             token.encode("latin-1"))]
            sent = False

            async def replay():
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            receive = replay
        await super().__call__(scope, receive, send)

    async def send(self, message, send, scope):
        # As the library's, but the new cookie carries the token the page
        # was rendered with.
        if message["type"] == "http.response.start" and self.cookie_name not in _cookies(scope):
            headers = MutableHeaders(scope=message)
            c = http.cookies.SimpleCookie()
            c[self.cookie_name] = scope["state"]["csrftoken"]
            c[self.cookie_name]["path"] = self.cookie_path
            c[self.cookie_name]["samesite"] = self.cookie_samesite
            if self.cookie_secure:
                c[self.cookie_name]["secure"] = True
            headers.append("set-cookie", c.output(header="").strip())
        await send(message)


def _cookies(scope):
    c = http.cookies.SimpleCookie()
    for k, v in scope["headers"]:
        if k == b"cookie":
            try:
                c.load(v.decode("latin-1"))
            except http.cookies.CookieError:
                pass
    return c
