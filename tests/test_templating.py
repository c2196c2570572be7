"""The sandboxed renderer: fallback syntax, lenient undefined, sandbox, limits, cache."""

from __future__ import annotations

import pytest

from callwright.templating import (
    TemplateError,
    TemplateRenderer,
    preprocess,
    referenced_variables,
    render,
    render_safe,
    validate_template,
)


def test_renders_variables() -> None:
    assert render("Hi {{ first_name }}!", {"first_name": "Ann"}) == "Hi Ann!"


def test_fallback_form_uses_literal_when_undefined() -> None:
    assert render("Hello {{last_name||sir}}", {}) == "Hello sir"


def test_fallback_form_uses_value_when_defined() -> None:
    assert render("Hello {{last_name||sir}}", {"last_name": "Smith"}) == "Hello Smith"


def test_fallback_form_applies_to_empty_and_none() -> None:
    assert render("{{ a||x }}/{{ b||y }}", {"a": "", "b": None}) == "x/y"


def test_fallback_form_with_quoted_default_and_attribute() -> None:
    assert render("{{ account.tier || 'gold plus' }}", {}) == "gold plus"
    assert render("{{ account.tier || 'gold plus' }}", {"account": {"tier": "basic"}}) == "basic"


def test_fallback_form_keeps_quoted_pipes() -> None:
    assert render("{{ a || 'x || y' }}", {}) == "x || y"


def test_double_pipe_outside_tags_is_left_alone() -> None:
    assert render("a || b {{ c||d }}", {}) == "a || b d"


def test_preprocess_keeps_line_numbers() -> None:
    source = "{{ a\n||\nb }}"
    assert preprocess(source).count("\n") == source.count("\n")


def test_undefined_renders_empty() -> None:
    assert render("[{{ nothing }}]", {}) == "[]"


def test_attribute_of_undefined_renders_empty() -> None:
    assert render("[{{ account.tier.name }}]", {}) == "[]"


def test_default_filter_works_on_undefined_attribute() -> None:
    assert render("{{ account.tier | default('standard') }}", {}) == "standard"


def test_none_renders_empty() -> None:
    assert render("[{{ last_name }}]", {"last_name": None}) == "[]"


def test_operations_on_undefined_do_not_fail() -> None:
    assert render("{{ x + 1 }}{{ x() }}{{ x | int }}", {}) == "0"


def test_sandbox_blocks_dunder_access() -> None:
    with pytest.raises(TemplateError, match="sandbox"):
        render("{{ ''.__class__.__mro__ }}", {})


def test_sandbox_blocks_dunder_access_on_undefined() -> None:
    with pytest.raises(TemplateError, match="sandbox"):
        render("{{ x.__class__ }}", {})


def test_sandbox_blocks_mutating_lists() -> None:
    with pytest.raises(TemplateError):
        render("{% set l = [] %}{{ l.append(1) }}", {})


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError, match=r"syntax error.*line 2"):
        render("Hi\n{{ name }", {})


def test_runtime_error_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render("{{ 1 / 0 }}", {})


def test_render_safe_drops_broken_tag_and_keeps_good_ones() -> None:
    text = render_safe("Hi {{ first_name }}, {{ broken syntax }} welcome{% if %}.", {"first_name": "Ann"})
    assert text == "Hi Ann, welcome."


def test_render_safe_drops_unclosed_tag() -> None:
    assert render_safe("Hi {{ first_name }} {{ oops }, bye", {"first_name": "Ann"}) == "Hi Ann , bye"


def test_render_safe_renders_normally_when_fine() -> None:
    assert render_safe("Hi {{ n||there }}", {}) == "Hi there"


def test_validate_template_reports_error() -> None:
    assert validate_template("{% for x in %}") is not None


def test_validate_template_accepts_good_template() -> None:
    assert validate_template("Hi {{ first_name || 'there' }}") is None


def test_validate_template_rejects_unknown_filter() -> None:
    assert validate_template("{{ x | nosuchfilter }}") is not None


def test_referenced_variables_lists_top_level_names() -> None:
    source = "{{ a.b }} {% for i in range(2) %}{{ i }}{{ c || d }}{% endfor %}"
    assert referenced_variables(source) == {"a", "c"}


def test_source_size_limit() -> None:
    renderer = TemplateRenderer(max_source_bytes=10)
    with pytest.raises(TemplateError, match="bytes"):
        renderer.render("x" * 11, {})


def test_output_limit() -> None:
    renderer = TemplateRenderer(max_output_chars=100)
    with pytest.raises(TemplateError, match="limit"):
        renderer.render("{% for i in range(200) %}x{% endfor %}", {})


def test_string_repetition_is_bounded() -> None:
    with pytest.raises(TemplateError, match="limit"):
        render("{{ 'x' * 1000000000 }}", {})


def test_huge_power_is_bounded() -> None:
    with pytest.raises(TemplateError, match="limit"):
        render("{{ 10 ** 100000000 }}", {})


def test_padding_width_is_bounded() -> None:
    with pytest.raises(TemplateError, match="limit"):
        render("{{ 'x' | center(1000000000) }}", {})


def test_format_width_is_bounded() -> None:
    with pytest.raises(TemplateError, match="limit"):
        render("{{ '{:>999999999}'.format(1) }}", {})


def test_replace_blowup_is_bounded() -> None:
    with pytest.raises(TemplateError, match="limit"):
        render("{% set s = 'x' * 200000 %}{{ s.replace('', s) }}", {})


def test_doubling_through_namespace_is_bounded() -> None:
    source = "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    with pytest.raises(TemplateError, match="limit"):
        render(source, {})


def test_doubling_through_macro_recursion_is_bounded() -> None:
    source = "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('x', 60) }}"
    with pytest.raises(TemplateError, match="limit"):
        render(source, {})


def test_nested_structure_output_is_bounded() -> None:
    source = "{% set s = 'x' * 200000 %}{% set a = [s, s, s, s] %}{% set b = [a, a, a, a] %}{{ b }}"
    with pytest.raises(TemplateError, match="limit"):
        render(source, {})


def test_range_size_is_bounded() -> None:
    with pytest.raises(TemplateError, match="range"):
        render("{{ range(100000000) | list | length }}", {})


def test_time_limit_stops_silent_nested_loops() -> None:
    renderer = TemplateRenderer(timeout_s=0.05)
    source = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match="longer than 50 ms"):
        renderer.render(source, {})


def test_renderer_still_works_after_a_timeout() -> None:
    renderer = TemplateRenderer(timeout_s=0.05)
    with pytest.raises(TemplateError):
        renderer.render("{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}", {})
    assert renderer.render("ok {{ x }}", {"x": 1}) == "ok 1"


def test_deep_recursion_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="recursion"):
        render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {})


def test_compiled_templates_are_cached() -> None:
    renderer = TemplateRenderer()
    assert renderer.compile("Hi {{ x }}") is renderer.compile("Hi {{ x }}")


def test_cache_evicts_least_recently_used() -> None:
    renderer = TemplateRenderer(cache_size=2)
    first = renderer.compile("a{{ x }}")
    renderer.compile("b{{ x }}")
    renderer.compile("c{{ x }}")
    assert renderer.compile("a{{ x }}") is not first


def test_output_is_not_html_escaped() -> None:
    assert render("{{ x }}", {"x": "Tom & <Jerry>"}) == "Tom & <Jerry>"


def test_straight_line_templates_render_inline_and_others_in_the_thread() -> None:
    renderer = TemplateRenderer()
    modes = {
        "plain text": "plain",
        "Hi {{ first_name||there }}, {{ a.b['c'] | upper }}": "inline",
        "{% if x %}y{% endif %}": "thread",
        "{{ x ~ y }}": "thread",
        "{{ x.replace('a', 'b') }}": "thread",
        "{{ items[n] }}": "thread",
        "{{ range(10) | list | join }}": "thread",
    }
    for source, mode in modes.items():
        assert renderer.compile(source)._callwright_mode == mode, source
    assert renderer.render("Hi {{ first_name||there }}", {}) == "Hi there"
    assert renderer.render("a\r\nb {{ x }}", {"x": 1}) == "a\nb 1"


def test_inline_render_keeps_the_output_limit_and_the_sandbox() -> None:
    renderer = TemplateRenderer(max_output_chars=10)
    with pytest.raises(TemplateError, match="limit"):
        renderer.render("{{ x }}", {"x": "y" * 100})
    with pytest.raises(TemplateError, match="sandbox"):
        TemplateRenderer().render("{{ x.__class__ }}", {"x": "y"})
