"""show_source: notebooks show the code they run, with where it lives."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from medlib import noise, sampling
from medlib.notebook import Source, show_source


def test_the_docstring_is_folded_to_its_summary_and_the_code_is_kept():
    src = show_source(noise.poisson_noise)
    full = inspect.getsource(noise.poisson_noise)
    doc = inspect.getdoc(noise.poisson_noise)
    assert isinstance(src, Source)
    assert "Parameters" in full and "Parameters" not in src.code
    assert doc.split("\n")[0] in src.code and "API reference" in src.code
    body = full[full.index('"""', full.index('"""') + 3) + 3:]   # after the docstring
    assert body.strip() and body.strip() in src.code
    compile(src.code, "<shown>", "exec")    # what the reader sees is still valid Python


def test_a_numpy_bool_is_a_bool():
    assert show_source(noise.poisson_noise, docstring=np.True_).code == \
        show_source(noise.poisson_noise, docstring=True).code


def test_the_whole_docstring_on_request():
    assert show_source(noise.poisson_noise, docstring=True).code == \
        inspect.getsource(noise.poisson_noise).rstrip("\n")


def test_the_caption_names_the_file_and_lines():
    src = show_source(noise.poisson_noise)
    lines, first = inspect.getsourcelines(noise.poisson_noise)
    assert src.path == "medlib/noise.py"
    assert (src.first_line, src.last_line) == (first, first + len(lines) - 1)
    assert src.caption == f"medlib/noise.py, lines {first}\u2013{first + len(lines) - 1}"
    assert repr(src).startswith("# medlib/noise.py, lines")


def test_public_functions_link_to_the_api_reference_and_private_ones_do_not():
    src = show_source(noise.poisson_noise)
    assert src.api_url == "../appendix/api/medlib.noise.html#medlib.noise.poisson_noise"
    html = src._repr_html_()
    assert src.api_url in html and "medlib/noise.py" in html
    private = show_source(sampling._full_convolution)
    assert private.api_url is None and "href" not in private._repr_html_()


def test_a_method_links_to_its_class_on_its_module_page():
    from medlib.prep.validation import Pipeline

    src = show_source(Pipeline.apply)
    assert src.api_url == ("../appendix/api/medlib.prep.validation.html"
                           "#medlib.prep.validation.Pipeline")


@pytest.mark.parametrize("bad, kwargs, error, match", [
    (len, {}, TypeError, "obj"),
    (3, {}, TypeError, "obj"),
    (noise.poisson_noise, {"docstring": "yes"}, TypeError, "docstring"),
])
def test_bad_input(bad, kwargs, error, match):
    with pytest.raises(error, match=match):
        show_source(bad, **kwargs)
