"""Tests of iapix.notebook.show_source: the notebooks show the package code beside its equation, and nbval compares
that output on every machine, so it must hold no absolute path and must fail loudly when an excerpt goes stale."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

import iapix
from iapix.decoder import HyperLSTMCell, MDNHead
from iapix.latent import GMMLatent, apply_stats, byy_weights
from iapix.notebook import _drop_docstring, show_source


def parts(md) -> tuple[str, str]:
    """(header line, code inside the fence) of what show_source returns."""
    header, block = md.data.split("\n\n", 1)
    assert block.startswith("```python\n") and block.endswith("\n```"), block
    return header, block[len("```python\n"):-len("\n```")]


def test_a_function_without_its_docstring():
    header, code = parts(show_source(byy_weights))
    assert header == "`iapix/latent.py` · `byy_weights` (docstring left out)"
    assert code.startswith("def byy_weights(g: Tensor, s2: Tensor, variances: Tensor) -> Tensor:\n")
    assert "clamp(-1.0001, 1.0)" in code and "return g * (1.0 + delta)" in code
    assert '"""' not in code and "reinforced" not in code  # the docstring's words
    assert ast.get_docstring(ast.parse(code).body[0]) is None  # still valid Python


def test_the_docstring_on_request():
    header, code = parts(show_source(byy_weights, docstring=True))
    assert header == "`iapix/latent.py` · `byy_weights`"
    assert "reinforced" in ast.get_docstring(ast.parse(code).body[0])


def test_no_absolute_path_and_the_same_text_every_time():
    root = str(Path(iapix.__file__).resolve().parents[1])
    md = show_source(GMMLatent.losses)
    assert root not in md.data and md.data == show_source(GMMLatent.losses).data


def test_methods_bound_methods_decorated_methods_and_properties():
    header, code = parts(show_source(GMMLatent.losses))
    assert header.startswith("`iapix/latent.py` · `GMMLatent.losses`")
    assert code.startswith("def losses(self, mu: Tensor")  # dedented
    assert "harmony_gaussian(mu, s2, self.means, self.variances)" in code
    assert show_source(GMMLatent(2, 3).losses).data == show_source(GMMLatent.losses).data
    _, update = parts(show_source(GMMLatent.update))  # @torch.no_grad() wraps it
    assert update.startswith("@torch.no_grad()\ndef update(")
    header, code = parts(show_source(HyperLSTMCell.state_size))
    assert header == "`iapix/decoder.py` · `HyperLSTMCell.state_size`"
    assert "def state_size(self) -> int:" in code


def test_a_class_drops_its_own_docstring_only():
    header, code = parts(show_source(MDNHead))
    assert header == "`iapix/decoder.py` · `MDNHead` (docstring left out)"
    cls = ast.parse(code).body[0]
    assert ast.get_docstring(cls) is None
    assert any(ast.get_docstring(f) for f in cls.body if isinstance(f, ast.FunctionDef))  # the methods keep theirs


def test_an_excerpt_between_two_texts():
    header, code = parts(show_source(apply_stats, start="alpha_new = w / n", stop="return"))
    assert header == "`iapix/latent.py` · `apply_stats` (excerpt)"  # the docstring was not in it anyway
    lines = code.splitlines()
    assert lines[0] == "alpha_new = w / n" and lines[-1].startswith("return alpha_out")
    assert "keep = 1.0 - decay" in code and "denom" not in code
    _, tail = parts(show_source(apply_stats, start="alpha_new = w / n"))  # to the end
    assert tail == code
    header, head = parts(show_source(byy_weights, stop="L = harmony_scores"))  # from the signature
    assert header == "`iapix/latent.py` · `byy_weights` (docstring left out, excerpt)"
    assert head == "def byy_weights(g: Tensor, s2: Tensor, variances: Tensor) -> Tensor:\n" \
                   "    g = g.float()\n    L = harmony_scores(g, s2, variances)"


def test_a_text_not_in_the_code_is_an_error():
    with pytest.raises(ValueError, match=r"start='no such line' is in no line of byy_weights"):
        show_source(byy_weights, start="no such line")
    with pytest.raises(ValueError, match=r"stop='g = g.float\(\)' is in no line of byy_weights from the start"):
        show_source(byy_weights, start="delta =", stop="g = g.float()")  # before start


def test_only_functions_and_classes_of_the_package():
    with pytest.raises(ValueError, match=r"dedent is defined in 'textwrap', not in the iapix package"):
        show_source(textwrap.dedent)
    with pytest.raises(TypeError, match="expected a function, method or class, got int"):
        show_source(42)
    with pytest.raises(TypeError, match="expected a function, method or class, got module"):
        show_source(iapix)


def test_a_body_that_is_only_a_docstring_keeps_a_placeholder():
    lines = ["@decorated", "def f():", '    """Only', '    words."""']
    assert _drop_docstring(lines) == 2 and lines == ["@decorated", "def f():", "    ..."]
    one_line = ['def g(): "left as it is"']
    assert _drop_docstring(one_line) is None and one_line == ['def g(): "left as it is"']
    code_after = ["def k():", '    """Words."""; x = 1', "    return x"]
    assert _drop_docstring(code_after) is None and code_after[1] == '    """Words."""; x = 1'
    comment_after = ["def m():", '    """Words: α × β."""  # why', "    return 2"]
    assert _drop_docstring(comment_after) == 1 and comment_after == ["def m():", "    return 2"]
    no_doc = ["def h():", "    return 1"]
    assert _drop_docstring(no_doc) is None and no_doc == ["def h():", "    return 1"]
