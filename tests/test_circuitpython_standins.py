# SPDX-License-Identifier: MIT
"""The CircuitPython stand-ins (tests/circuitpython/lib) offer nothing the
real modules lack: each public function, class and method of a stand-in
is in circuitpython-stubs (typing/requirements-circuitpython.txt), and
takes no argument the stub does not, in no way the stub does not (a
stand-in may be stricter: dualbank.flash's offset is keyword-only and
zlib.decompress positional-only in CircuitPython's C, though the stubs
allow more). The stubs have no ssl and no time: those two stand-ins
follow shared-bindings/ssl and shared-bindings/time as read."""

import ast

import pytest

from targets import BUILD, ROOT

LIB = ROOT / "tests" / "circuitpython" / "lib"
STUBS = BUILD / "stubs" / "circuitpython"
CHECKED = ("wifi", "socketpool", "zlib", "dualbank", "microcontroller", "storage", "supervisor",
           "aesio")


def _defs(tree):
    """{name: node} of the public functions and classes at the top of a
    module, and {class.method: node} of their public methods."""
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            out[node.name] = node
            if isinstance(node, ast.ClassDef):
                for sub in node.body:
                    if isinstance(sub, (ast.FunctionDef, ast.ClassDef)) and (
                            not sub.name.startswith("_") or sub.name == "__init__"):
                        out[node.name + "." + sub.name] = sub
    return out


def _params(fn):
    a = fn.args
    pos = [p.arg for p in a.posonlyargs + a.args if p.arg != "self"]
    return {"pos": pos, "kwonly": [p.arg for p in a.kwonlyargs],
            "varargs": a.vararg is not None, "varkw": a.kwarg is not None}


def _looser(mine, stub):
    """How the stand-in accepts more than the stub, or None."""
    if mine["varkw"] and not stub["varkw"]:
        return "takes **kwargs"
    if mine["varargs"]:
        # *args: positional only; no more of them than the stub's.
        return None if stub["varargs"] or len(stub["pos"]) else "takes *args"
    for name in mine["pos"]:
        if name not in stub["pos"]:
            return "positional {} not in the stub".format(name)
    for name in mine["kwonly"]:
        if name not in stub["pos"] + stub["kwonly"]:
            return "keyword {} not in the stub".format(name)
    return None


@pytest.mark.parametrize("module", CHECKED)
def test_standin_offers_nothing_the_circuitpython_module_lacks(module):
    stub_file = STUBS / (module + "-stubs") / "__init__.pyi"
    if not stub_file.is_file():
        pytest.fail("{} is missing: run make test".format(stub_file), pytrace=False)
    stub = _defs(ast.parse(stub_file.read_text()))
    mine = _defs(ast.parse((LIB / (module + ".py")).read_text()))
    problems = []
    for name, node in mine.items():
        if name.endswith(".__init__") and name.split(".")[0] not in stub:
            continue
        if name not in stub:
            problems.append("{}.{}: not in circuitpython-stubs".format(module, name))
            continue
        if isinstance(node, ast.FunctionDef) and isinstance(stub[name], ast.FunctionDef):
            why = _looser(_params(node), _params(stub[name]))
            if why:
                problems.append("{}.{}: {}".format(module, name, why))
    assert not problems


def test_the_check_can_fail():
    # A stand-in function with an argument CircuitPython's lacks is found.
    stub = _params(ast.parse("def flash(buffer, offset=0): ...").body[0])
    assert _looser(_params(ast.parse("def flash(buffer, *, offset=0): ...").body[0]), stub) is None
    assert _looser(_params(ast.parse("def flash(buffer, offset=0, erase=True): ...").body[0]), stub)
    assert _looser(_params(ast.parse("def flash(buffer, **kw): ...").body[0]), stub)



_SSL = """
import ssl
ctx = ssl.SSLContext()
for kw in ({"cafile": "ca.pem"}, {"capath": "/certs"}, {"cadata": b"-----BEGIN"}):
    try:
        ctx.load_verify_locations(**kw)
        print("RESULT " + list(kw)[0] + ' "accepted"')
    except Exception as e:
        print("RESULT " + list(kw)[0] + ' "' + type(e).__name__ + '"')
"""


def test_ssl_standin_refuses_what_circuitpythons_c_refuses(tmp_path):
    # shared-bindings/ssl/SSLContext.c: cafile and capath raise
    # NotImplementedError, cadata must be a str. A stand-in that took a
    # file path or bytes would let agent code pass here and fail on a board.
    import targets
    from agent import kit

    got = kit.run(targets.unix_cpy(), _SSL, extra_path=list(targets.CPY_PATH), timeout=120)
    assert got == {"cafile": "NotImplementedError", "capath": "NotImplementedError",
                   "cadata": "TypeError"}
