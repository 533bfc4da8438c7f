# SPDX-License-Identifier: MIT
"""A repository laid out by `mpota publish` needs no server logic: stock
nginx (Debian's package, TLS from the project's development CA) and
`mpota serve` both serve every file of it byte for byte, over HTTPS with
the CA pinned; the control document goes out with a short cache
lifetime, content-addressed files with a long one."""

import http.client
import ssl

import pytest

from bundles.cliworld import ok, released
from mpota_host import devca
from net.nginx import Nginx
from net.serveproc import Serve


@pytest.fixture
def repo(tmp_path):
    w = released(tmp_path / "w")
    b3 = w.bundle("bundle3", version=3, seed=3, size=70000)
    p3 = w.plan(b3, plan_id="fw-3", out="plan3", canary=["dev-x", "dev-y"])
    w.publish("--bundle", b3, "--plan", p3)
    ok(w.control("run", "fw-3", "--percent", "10"))
    ok(w.control("halt", "fw-2"))
    ok(w.mpota("revoke", w.b, "--repo", w.repo, "-k", w.key("u1")))
    ok(w.verify())
    return w


def _fetch_all(files, get):
    for name, data in files.items():
        status, headers, body = get("/" + name)
        assert status == 200, name
        assert body == data, name
    return len(files)


def test_stock_nginx_serves_the_published_repository_unchanged(repo, tmp_path):
    files = repo.published()
    assert {"control", "revoked", "roots/1"} <= set(files)
    assert any(n.startswith("canary/") for n in files) and any(n.startswith("plans/") for n in files)
    with Nginx(repo.repo, tmp_path / "nginx") as web:
        assert _fetch_all(files, web.get) == len(files)
        status, headers, _ = web.get("/control")
        assert headers["Cache-Control"] == "max-age=60"
        name = next(n for n in files if n.startswith("plans/"))
        assert web.get("/" + name)[1]["Cache-Control"] == "max-age=315360000"
        # Ranges, as a device resumes a chunk.
        chunk = next(n for n in files if "/chunks/" in n)
        status, _, part = web.get("/" + chunk, {"Range": "bytes=10-99"})
        assert status == 206 and part == files[chunk][10:100]
        assert web.get("/plans/" + "0" * 64)[0] == 404
        # The pin is real: a client pinning another development CA refuses it.
        other_ca, _ = devca.ensure(str(tmp_path / "other-ca"))
        other = ssl.create_default_context(cafile=other_ca.ca_pem)
        c = http.client.HTTPSConnection("127.0.0.1", web.port, context=other, timeout=30)
        with pytest.raises(ssl.SSLCertVerificationError):
            c.request("GET", "/control")
        c.close()
    assert web.proc.returncode == 0


def test_mpota_serve_serves_the_published_repository_unchanged(repo, tmp_path):
    files = repo.published()
    with Serve(repo.repo, "--state", tmp_path / "serve-state") as srv:
        ctx = ssl.create_default_context(cafile=srv.ca_pem)

        def get(path):
            c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=30)
            try:
                c.request("GET", path)
                r = c.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            finally:
                c.close()

        assert _fetch_all(files, get) == len(files)
