"""A Go ``text/template`` evaluator with the Helm and Sprig functions charts use."""

from cozyplan.upstream.gotemplate.execute import Engine, TemplateError, format_value, truthy
from cozyplan.upstream.gotemplate.functions import builtin_functions
from cozyplan.upstream.gotemplate.helm import HelmContext, render_chart_file, render_string
from cozyplan.upstream.gotemplate.parse import TemplateSyntaxError, parse

__all__ = [
    "Engine",
    "HelmContext",
    "TemplateError",
    "TemplateSyntaxError",
    "builtin_functions",
    "format_value",
    "parse",
    "render_chart_file",
    "render_string",
    "truthy",
]
