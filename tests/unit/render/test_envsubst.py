"""runner.render.envsubst against Flux's own substitution engine (fluxcd/pkg/envsubst v1.7.1).

Every expected value in GO_CASES was produced by the Go implementation itself, not written by
hand: a throwaway Go program (module requiring github.com/fluxcd/pkg/envsubst v1.7.1) read each
case as JSON, called envsubst.Eval with kustomize_varsub.go's lookup (strict: (vars[s], exists),
otherwise (vars[s], true)), and printed the result bytes or err.Error(); a panic was caught with
recover() and its message printed. Values with lone surrogates went to Go as the raw bytes they
stand for (surrogateescape), and Go's result bytes came back the same way. To add a case, run
it through such a program; do not guess what Go does.
"""

from __future__ import annotations

import pytest

from runner.render.envsubst import (
    SubstitutionError,
    check_variable_names,
    referenced_variables,
    substitute,
    substitute_vars,
)

YAML = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-${ENV}
  namespace: ${NAMESPACE:=default}
  labels:
    tier: ${TIER,,}
    region: "${REGION:-eu-west-1}"
data:
  replicas: ${REPLICAS}
  escaped: $${NOT_A_VAR}
  shell: echo $HOME $(date) $$
  image: registry/app:${TAG#v}
  host: ${HOST/example.com/example.org}
"""
YAML_VARS = {"ENV": "prod", "TIER": "BACKEND", "REPLICAS": "3", "TAG": "v1.2.3",
             "HOST": "api.example.com"}
YAML_OUT = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-prod
  namespace: default
  labels:
    tier: backend
    region: "eu-west-1"
data:
  replicas: 3
  escaped: ${NOT_A_VAR}
  shell: echo $HOME $(date) $
  image: registry/app:1.2.3
  host: api.example.org
"""

# (text, variables, strict, Go's output or None, Go's error text or None)
GO_CASES = [
    pytest.param('plain: text\n', {}, True, 'plain: text\n', None, id='text only'),
    pytest.param('${v}', {'v': 'hello'}, True, 'hello', None, id='bare set'),
    pytest.param('${v}', {'v': ''}, True, '', None, id='bare set empty strict'),
    pytest.param('[${v}]', {}, False, '[]', None, id='bare unset lenient'),
    pytest.param(
        '[${v}]', {}, True, None, 'variable not set (strict mode): "v"', id='bare unset strict'),
    pytest.param('${1}${_}', {'1': 'one', '_': 'u'}, True, 'oneu', None, id='digits name'),
    pytest.param('$v $HOME', {'v': 'hello'}, True, '$v $HOME', None, id='dollar name left alone'),
    pytest.param('cost: 5$', {'v': 'hello'}, True, 'cost: 5$', None, id='lone dollar at end'),
    pytest.param(
        '$(date) $((1+2))', {'v': 'hello'}, True, '$(date) $((1+2))', None, id='dollar paren'),
    pytest.param('$${v}', {'v': 'hello'}, True, '${v}', None, id='escape'),
    pytest.param('$$v', {'v': 'hello'}, True, '$v', None, id='escape of plain'),
    pytest.param('$$$${v}', {'v': 'hello'}, True, '$${v}', None, id='escape four'),
    pytest.param('$$${v}', {'v': 'hello'}, True, '$hello', None, id='escape three'),
    pytest.param('$$$', {'v': 'hello'}, True, '$$', None, id='escape then dollar brace'),
    pytest.param(
        '$${v:=x} ${v}', {'v': 'hello'}, True, '${v:=x} hello', None, id='escaped default kept'),
    pytest.param(
        '\\${v} \\\\${v}', {'v': 'hello'}, True, '\\hello \\\\hello', None, id='backslash outside'),
    pytest.param('${v', {'v': 'hello'}, True, None, 'missing closing brace', id='unterminated'),
    pytest.param(
        'x ${', {'v': 'hello'}, True, None, 'unable to parse variable name', id='only open'),
    pytest.param(
        '${}', {'v': 'hello'}, True, None, 'unable to parse variable name', id='empty braces'),
    pytest.param(
        '${ v }', {'v': 'hello'}, True, None, 'unable to parse variable name', id='space name'),
    pytest.param(
        '${v }', {'v': 'hello'}, True, None, 'missing closing brace', id='space after name'),
    pytest.param(
        '${v-d}', {'v': 'hello'}, True, None, 'missing closing brace',
        id='dash default unsupported'),
    pytest.param(
        '${v+d}', {'v': 'hello'}, True, None, 'missing closing brace', id='plus unsupported'),
    pytest.param(
        '${v?d}', {'v': 'hello'}, True, None, 'missing closing brace', id='question unsupported'),
    pytest.param('${v:+alt}', {'v': 'hello'}, True, 'hello', None, id='colon plus set'),
    pytest.param('${v:+alt}', {}, True, 'alt', None, id='colon plus unset'),
    pytest.param('${v:?msg}', {}, True, 'msg', None, id='colon question unset'),
    pytest.param('${v:=d}', {'v': 'hello'}, True, 'hello', None, id='colon equal set'),
    pytest.param('${v:=d}', {}, True, 'd', None, id='colon equal unset strict'),
    pytest.param('${v:=d}', {'v': ''}, True, 'd', None, id='colon equal empty'),
    pytest.param('${v=d}', {'v': 'hello'}, True, 'hello', None, id='equal set'),
    pytest.param('${v=d}', {'v': ''}, False, 'd', None, id='equal empty value'),
    pytest.param('${v:-d}', {}, False, 'd', None, id='colon dash unset'),
    pytest.param('[${v:-}]', {}, True, '[]', None, id='empty default'),
    pytest.param('[${v=}]', {}, True, '[]', None, id='equal empty default'),
    pytest.param('${v==x}', {}, True, '=x', None, id='double equal'),
    pytest.param('${v:==x}', {}, True, '=x', None, id='colon equal equal'),
    pytest.param('${v:-a:b}', {}, True, 'a:b', None, id='default with colon text'),
    pytest.param('${v:-$}${v:-$$}', {}, True, '$$$', None, id='default dollar'),
    pytest.param(
        '${v:-$${x}}', {'x': 'X'}, True, '$X', None, id='default dollars are not an escape'),
    pytest.param(
        '${a:=x}${b=y}${c:-z}${d:?q}${e:+w}', {}, True, 'xyzqw', None,
        id='default operators tolerate unset'),
    pytest.param('${v:=\\}}', {}, True, '\\}', None, id='default backslash brace'),
    pytest.param('${v:=${w}}', {'w': 'W'}, True, 'W', None, id='nested default'),
    pytest.param('${v:=a${w}b${w}c}', {'w': 'W'}, True, 'aWbWc', None, id='nested default mixed'),
    pytest.param('${a:-${b:-${c:-deep}}}', {}, True, 'deep', None, id='deep defaults'),
    pytest.param(
        '${v:-${missing}}', {'v': 'hello'}, True, None,
        'variable not set (strict mode): "missing"', id='eager default strict'),
    pytest.param(
        '${v:-${missing}}', {'v': 'hello'}, False, 'hello', None, id='eager default lenient'),
    pytest.param('${#v}', {'v': 'hello'}, True, '5', None, id='length'),
    pytest.param('${#v}', {'v': 'héllo😀'}, True, '10', None, id='length multibyte'),
    pytest.param(
        '${#v}', {}, True, None, 'variable not set (strict mode): "v"', id='length unset strict'),
    pytest.param('${#}', {'v': 'hello'}, True, None, 'bad substitution', id='length empty'),
    pytest.param('${#v:1}', {'v': 'hello'}, True, None, 'bad substitution', id='length extra'),
    pytest.param('${v^}', {'v': 'hello'}, True, 'Hello', None, id='upper first'),
    pytest.param('${v^^}', {'v': 'hello'}, True, 'HELLO', None, id='upper all'),
    pytest.param('${v,}', {'v': 'HELLO'}, True, 'hELLO', None, id='lower first'),
    pytest.param('${v,,}', {'v': 'HELLO'}, True, 'hello', None, id='lower all'),
    pytest.param(
        '${v^,}${v,^}', {'v': 'hello'}, True, 'hellohello', None, id='mixed case operator'),
    pytest.param('${v^^^}', {'v': 'hello'}, True, None, 'bad substitution', id='triple caret'),
    pytest.param(
        '${v^^}', {'v': 'straße \ufb01 \u1fb3 ǆ \u0250 é😀'}, True,
        'STRAßE \ufb01 \u1fbc Ǆ \u2c6f É😀', None, id='upper unicode simple mapping'),
    pytest.param(
        '${v,,}', {'v': 'İSTANBUL \u03a3\u0391\u03a3 Ǆ É'}, True,
        'istanbul \u03c3\u03b1\u03c3 ǆ é', None, id='lower unicode simple mapping'),
    pytest.param('${v^}', {'v': 'ǆungla'}, True, 'Ǆungla', None, id='upper first unicode'),
    pytest.param(
        '${v,,}', {}, True, None, 'variable not set (strict mode): "v"', id='case unset strict'),
    pytest.param('${v:1}', {'v': 'hello'}, True, 'ello', None, id='substr offset'),
    pytest.param('${v:1:3}', {'v': 'hello'}, True, 'ell', None, id='substr offset length'),
    pytest.param('${v:10}|${v:2:100}', {'v': 'hello'}, True, '|llo', None, id='substr past end'),
    pytest.param(
        '${v: -2}', {'v': 'hello'}, True, 'hello', None, id='substr negative offset needs space'),
    pytest.param('${v:-2}', {'v': 'hello'}, True, 'hello', None, id='substr colon dash is default'),
    pytest.param(
        '${v:1:-1}|${v:3:-3}', {'v': 'hello'}, True, 'ell|', None, id='substr negative length'),
    pytest.param(
        '${v:x}|${v:1:x}|${v:+1}', {'v': 'hello'}, True, 'hello|hello|hello', None,
        id='substr not a number'),
    pytest.param(
        '${v:+1}|${v: +1}', {'v': 'hello'}, True, 'hello|hello', None,
        id='substr plus is a default'),
    pytest.param(
        '${v:${n}}|${v:${m}:2}', {'v': 'hello', 'n': '-2', 'm': '-10'}, True, 'lo|he', None,
        id='substr negative offset via variable'),
    pytest.param(
        '${v:${n}:${n}}', {'v': 'hello', 'n': '2'}, True, 'll', None, id='substr nested offset'),
    pytest.param('${v:1::2}', {'v': 'hello'}, True, 'el', None, id='substr double colon'),
    pytest.param('${v:1:2:3}', {'v': 'hello'}, True, 'hello', None, id='substr third part'),
    pytest.param(
        '${v:0:1}|${v:1}', {'v': 'é'}, True, '\udcc3|\udca9', None, id='substr cuts a character'),
    pytest.param(
        '${v:é}', {'v': 'hello'}, True, None, 'bad substitution',
        id='substr multibyte after colon'),
    pytest.param(
        '${v:', {'v': 'hello'}, True, None, 'bad substitution', id='substr at end of input'),
    pytest.param(
        '${v:}', {'v': 'hello'}, True, None, 'unable to parse substitution within function',
        id='substr empty offset'),
    pytest.param(
        '${v:1:9223372036854775807}', {'v': 'hello'}, True, None,
        'runtime error: slice bounds out of range [:-9223372036854775808]',
        id='substr overflow panics'),
    pytest.param(
        '${v:9223372036854775808}', {'v': 'hello'}, True, 'hello', None,
        id='substr out of int range'),
    pytest.param(
        '${v:0:1}', {}, True, None, 'variable not set (strict mode): "v"',
        id='substr unset strict'),
    pytest.param(
        '${f#*.}', {'f': 'bash.string.txt'}, True, 'string.txt', None, id='remove shortest prefix'),
    pytest.param(
        '${f##*.}', {'f': 'bash.string.txt'}, True, 'txt', None, id='remove longest prefix'),
    pytest.param(
        '${f%.*}', {'f': 'bash.string.txt'}, True, 'bash.string', None,
        id='remove shortest suffix'),
    pytest.param(
        '${f%%.*}', {'f': 'bash.string.txt'}, True, 'bash', None, id='remove longest suffix'),
    pytest.param(
        '${f#bash}|${f#nope}', {'f': 'bash.string.txt'}, True, '.string.txt|bash.string.txt', None,
        id='remove literal prefix'),
    pytest.param(
        '${f#[a-c]}|${f#[^a-c]}|${f#?}', {'f': 'bash.string.txt'}, True,
        'ash.string.txt|bash.string.txt|ash.string.txt', None, id='remove class'),
    pytest.param('${v#\\*}', {'v': '*x'}, True, 'x', None, id='remove escaped star'),
    pytest.param(
        '${f#[}|${f#\\}', {'f': 'bash.string.txt'}, True, 'bash.string.txt|bash.string.txt', None,
        id='remove bad pattern'),
    pytest.param(
        '${v%[xy]}|${v%[xy]z}', {'v': 'abxz'}, True, 'abxz|abxz', None,
        id='remove suffix class reversed'),
    pytest.param(
        '${p##*/}|${p%/*}', {'p': '/a/b/c.txt'}, True, 'c.txt|/a/b', None, id='remove slash star'),
    pytest.param(
        '${v#é}|${v%?}|${v%%*é}', {'v': 'éaé'}, True, 'aé|éa\ufffd|', None, id='remove multibyte'),
    pytest.param('${v###x}', {'v': '#xy'}, True, 'y', None, id='remove hash triple'),
    pytest.param('${v%%%x}', {'v': 'yx%x'}, True, 'yx', None, id='remove percent triple'),
    pytest.param(
        '${v#}', {'v': 'hello'}, True, None, 'unable to parse substitution within function',
        id='remove empty pattern'),
    pytest.param(
        '${v%%.*}', {}, True, None, 'variable not set (strict mode): "v"',
        id='remove unset strict'),
    pytest.param('${v/l/L}', {'v': 'hello'}, True, 'heLlo', None, id='replace first'),
    pytest.param('${v//l/L}', {'v': 'hello'}, True, 'heLLo', None, id='replace all'),
    pytest.param(
        '${v/#he/HE}|${v/#lo/X}', {'v': 'hello'}, True, 'HEllo|hello', None, id='replace prefix'),
    pytest.param(
        '${v/%lo/LO}|${v/%he/X}', {'v': 'hello'}, True, 'helLO|hello', None, id='replace suffix'),
    pytest.param('${v/l/}|${v//l/}', {'v': 'hello'}, True, 'helo|heo', None, id='replace delete'),
    pytest.param(
        '${v/#h/}|${v/%o/}', {'v': 'hello'}, True, 'hello|hello', None,
        id='replace prefix without replacement'),
    pytest.param('${p//\\//-}', {'p': 'a/b/c'}, True, 'a-b-c', None, id='replace escaped slash'),
    pytest.param('${p/\\\\/x}', {'p': 'a\\b'}, True, 'axb', None, id='replace escaped backslash'),
    pytest.param('${p/$$/D}', {'p': 'a$b'}, True, 'aDb', None, id='replace escaped dollars'),
    pytest.param(
        '${v/${e}/X}|${v//${e}/-}', {'v': 'héy', 'e': ''}, True, 'Xhéy|-h-é-y-', None,
        id='replace empty pattern'),
    pytest.param(
        '${v/l/${w^^}}', {'v': 'hello', 'w': 'x'}, True, 'heXlo', None,
        id='replace nested replacement'),
    pytest.param(
        '${v/l}/L}', {'v': 'hel}lo'}, True, 'heLlo', None, id='replace pattern with brace'),
    pytest.param(
        '${v/l${w}/x}', {'v': 'hello', 'w': 'l'}, True, None, 'bad substitution',
        id='replace text then expression'),
    pytest.param(
        '${v/l}', {'v': 'hello'}, True, None, 'bad substitution', id='replace missing delimiter'),
    pytest.param(
        '${v//}', {'v': 'hello'}, True, None, 'bad substitution', id='replace empty first part'),
    pytest.param(
        '${v//#/x}|${v//#a/b}', {'v': '#a#a'}, True, 'xaxa|bb', None, id='replace all with hash'),
    pytest.param('${v/l//L}', {'v': 'hello'}, True, 'heLlo', None, id='replace multiple slashes'),
    pytest.param(
        '${v//a/b}', {}, True, None, 'variable not set (strict mode): "v"',
        id='replace unset strict'),
    pytest.param('a${v}\x00${v}', {'v': 'hello'}, True, 'ahello', None, id='nul truncates'),
    pytest.param(
        '${v:-a\x00b}', {'v': 'hello'}, True, None, 'unable to parse substitution within function',
        id='nul in expression'),
    pytest.param('${é} ${日本}', {'é': 'e', '日本': 'jp'}, True, 'e jp', None, id='unicode name'),
    pytest.param(
        '${x²}', {'x': '1'}, True, None, 'missing closing brace', id='non letter name char'),
    pytest.param(
        '${\U00011f04}', {'\U00011f04': 'kawi'}, True, 'kawi', None, id='unicode 15 letter name'),
    pytest.param(
        '${missing} ${v:', {}, True, None, 'bad substitution', id='parse error wins over strict'),
    pytest.param(
        '${a} ${b}', {}, True, None, 'variable not set (strict mode): "a"',
        id='first strict error reported'),
    pytest.param(
        '${v^^}|${v^}', {'v': 'a\udcffb'}, True, 'A\ufffdB|A\udcffb', None,
        id='invalid utf8 value upper'),
    pytest.param(
        '${v%b}', {'v': 'a\udcffb'}, True, 'a\ufffd', None, id='invalid utf8 value suffix'),
    pytest.param('${#v}', {'v': 'a\udcffb'}, True, '3', None, id='invalid utf8 value length'),
    pytest.param(YAML, YAML_VARS, False, YAML_OUT, None, id='yaml document lenient'),
    pytest.param(YAML, YAML_VARS, True, YAML_OUT, None, id='yaml document strict'),
]


@pytest.mark.parametrize(("text", "variables", "strict", "output", "error"), GO_CASES)
def test_matches_go(text: str, variables: dict[str, str], strict: bool,
                    output: str | None, error: str | None) -> None:
    if error is None:
        assert substitute_vars(text, variables, strict) == output
    else:
        with pytest.raises(SubstitutionError) as raised:
            substitute_vars(text, variables, strict)
        assert str(raised.value) == error


def test_text_without_dollar_is_returned_as_is_without_lookups() -> None:
    def lookup(name: str) -> tuple[str, bool]:
        raise AssertionError(f"looked up {name}")

    text = "kind: ConfigMap\ndata:\n  a: b\n" * 100
    assert substitute(text, lookup) is text


def test_lookup_order_is_arguments_first_then_the_variable() -> None:
    # template.go evaluates a node's arguments before calling the mapper for the node itself.
    calls: list[str] = []

    def lookup(name: str) -> tuple[str, bool]:
        calls.append(name)
        return name.upper(), True

    assert substitute("${a:-${b}}${c/x/${d}} ${e}", lookup) == "AC E"
    assert calls == ["b", "a", "d", "c", "e"]


def test_lookup_value_is_used_even_when_it_does_not_exist() -> None:
    # Go passes the mapper's value on as it is; only a default operator may see exists=False.
    assert substitute("${v:=d}", lambda name: ("given", False)) == "given"


def test_strict_error_names_the_variable_and_where_it_is() -> None:
    text = "a: ${SET}\nb: é ${MISSING^^}\n"
    with pytest.raises(SubstitutionError) as raised:
        substitute_vars(text, {"SET": "1"}, strict=True)
    error = raised.value
    assert str(error) == 'variable not set (strict mode): "MISSING"'
    assert error.variable == "MISSING"
    assert error.offset == text.index("${MISSING")


def test_nested_strict_error_points_at_the_inner_expression() -> None:
    text = "x: ${A:-${B}}"
    with pytest.raises(SubstitutionError) as raised:
        substitute_vars(text, {"A": "a"}, strict=True)
    assert (raised.value.variable, raised.value.offset) == ("B", text.index("${B"))


def test_parse_error_carries_the_expression_offset() -> None:
    text = "日本: ${OK}\nx: ${p/a//b} ${BROKEN:é}"
    with pytest.raises(SubstitutionError) as raised:
        substitute_vars(text, {}, strict=False)
    error = raised.value
    assert str(error) == "bad substitution"
    assert (error.variable, error.offset) == ("BROKEN", text.index("${BROKEN"))


def test_parse_error_before_any_name() -> None:
    with pytest.raises(SubstitutionError) as raised:
        substitute_vars("ab ${ x}", {}, strict=False)
    assert (str(raised.value), raised.value.variable, raised.value.offset) == (
        "unable to parse variable name", None, 3)


def test_offset_after_removed_escapes_is_in_the_original_text() -> None:
    # `\/` inside a replacement pattern loses its backslash while parsing.
    text = "${p/\\//-} ${p/\\//-} ${MISSING}"
    with pytest.raises(SubstitutionError) as raised:
        substitute_vars(text, {"p": "a/b"}, strict=True)
    assert raised.value.offset == text.index("${MISSING")


def test_substring_cut_gives_go_bytes_back() -> None:
    result = substitute_vars("${v:0:1}", {"v": "é"}, strict=True)
    assert result.encode("utf-8", "surrogateescape") == "é".encode()[:1]


def test_referenced_variables() -> None:
    text = "${A} ${B:=${C}} $${D} $E ${#F} ${G/x/${H}} ${A}"
    assert referenced_variables(text) == {"A", "B", "C", "F", "G", "H"}
    assert referenced_variables(text, required_only=True) == {"A", "C", "F", "G", "H"}
    assert referenced_variables("no variables, $HOME") == set()


def test_referenced_variables_agrees_with_strict_failures() -> None:
    text = "${X:-${Y}} ${Z:=z}"
    required = referenced_variables(text, required_only=True)
    assert required == {"Y"}
    substitute_vars(text, {"Y": ""}, strict=True)  # everything required is set: no error
    with pytest.raises(SubstitutionError):
        substitute_vars(text, {}, strict=True)


def test_referenced_variables_raises_parse_errors() -> None:
    with pytest.raises(SubstitutionError, match="missing closing brace"):
        referenced_variables("${A")


def test_check_variable_names() -> None:
    check_variable_names(["A", "_a1", "cluster_NAME"])
    with pytest.raises(SubstitutionError) as raised:
        check_variable_names(["ok", "app.name"])
    assert str(raised.value) == (
        "'app.name' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'")
    assert raised.value.variable == "app.name"
    for bad in ["1a", "a-b", "é", "", "a\n"]:
        with pytest.raises(SubstitutionError):
            check_variable_names([bad])


def test_very_deep_nesting_is_a_clean_error_not_a_crash() -> None:
    # A known difference: Go accepts any depth, Python's recursion limit stops at ~250 levels.
    text = "${a:-" * 2000 + "x" + "}" * 2000
    with pytest.raises(SubstitutionError, match="nested too deeply"):
        substitute_vars(text, {}, strict=False)
    with pytest.raises(SubstitutionError, match="nested too deeply"):
        referenced_variables(text)
    assert substitute_vars("${a:-" * 50 + "x" + "}" * 50, {}, strict=False) == "x"
