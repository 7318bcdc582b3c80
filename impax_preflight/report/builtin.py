"""The built-in reporters: json, html, markdown, junit.

A built-in plugin like any other: it registers through `impax_register_reporters`. Renderers are
imported inside the functions so that loading the plugin set stays quick.
"""

from __future__ import annotations

from ..hookspecs import hookimpl


def _json(report, out_dir):
    from .json import write_json

    return write_json(report, out_dir)


def _html(report, out_dir):
    from .html import write_html

    return write_html(report, out_dir)


def _markdown(report, out_dir):
    from .markdown import write_markdown

    return write_markdown(report, out_dir)


def _junit(report, out_dir):
    from .junit import write_junit

    return write_junit(report, out_dir)


@hookimpl
def impax_register_reporters(register):
    register("json", _json)
    register("html", _html)
    register("markdown", _markdown)
    register("junit", _junit)
