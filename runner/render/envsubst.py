"""Flux's `postBuild.substitute` engine: a port of `github.com/fluxcd/pkg/envsubst` v1.7.1.

kustomize-controller runs `envsubst.Eval` over the YAML text of every object it builds. This
module reproduces that function result for result and error for error, including the quirks
of its hand-written scanner, because users see those quirks in Flux and must see the same here.

Supported forms:

    ${v}              value                     ${#v}            length in UTF-8 bytes
    ${v^} ${v^^}      upper-case first / all    ${v,} ${v,,}     lower-case first / all
    ${v:o} ${v:o:n}   byte offset / length (a negative length counts back from the end)
    ${v#p} ${v##p}    remove shortest/longest prefix matching the glob p
    ${v%p} ${v%%p}    remove shortest/longest suffix matching p (the glob is reversed rune by
                      rune, as in Go, so classes like [ab] only work when symmetric)
    ${v/p/r} ${v//p/r} ${v/#p/r} ${v/%p/r}   replace first / all / prefix / suffix (p literal)
    ${v=d} ${v:=d} ${v:-d} ${v:?d} ${v:+d}   all mean "d if the value is empty" (Go's toDefault)
    $${v}             the literal text ${v}     $v, $(, a lone $  left alone

Quirks kept on purpose: `${v-d}` and `${v+d}` are "missing closing brace" errors; a NUL
character ends the input (Go's scanner uses rune 0 as its end-of-input marker); `$$` is an
escape only outside `${...}` and inside the pattern/replacement of `${v/p/r}` (where `\\/` and
`\\\\` are escapes too); a multi-byte character right after `${v:` is a "bad substitution".

Go strings are bytes, and lengths, offsets and globs work on bytes, so evaluation runs on the
UTF-8 encoding of the text. A result that cuts a character in half comes back with the stray
bytes as lone surrogates (errors="surrogateescape"), so `.encode("utf-8", "surrogateescape")`
gives exactly Go's bytes; values may carry such surrogates in too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

Lookup = Callable[[str], tuple[str, bool]]

# Error texts of fluxcd/pkg/envsubst, verbatim: Flux users see these words.
ERR_BAD_SUBSTITUTION = "bad substitution"
ERR_MISSING_CLOSING_BRACE = "missing closing brace"
ERR_PARSE_VARIABLE_NAME = "unable to parse variable name"
ERR_PARSE_FUNC_SUBSTITUTION = "unable to parse substitution within function"
ERR_PARSE_DEFAULT_FUNCTION = "unable to parse default function"
ERR_VAR_NOT_SET = "variable not set (strict mode)"
# Ours: Go's stack grows as needed, Python's recursion limit stops at ~250 nested `${...}`.
ERR_TOO_DEEP = "expressions nested too deeply to evaluate here (Flux would accept them)"

# kustomize_varsub.go's check of variable names, before any substitution.
VARIABLE_NAME_PATTERN = "^[_[:alpha:]][_[:alpha:][:digit:]]*$"
_VARIABLE_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")  # RE2's [:alpha:] is ASCII-only

_GO_INT_MIN, _GO_INT_MAX = -(1 << 63), (1 << 63) - 1


class SubstitutionError(Exception):
    """Eval failed. `str(error)` is Go's error text, word for word.

    `variable` is the variable being evaluated or parsed when it failed (None if no name had
    been read yet); `offset` is the index in the text of the `${` involved: for a parse error
    the outermost expression being parsed, for an evaluation error the failing one itself.
    """

    def __init__(self, message: str, variable: str | None = None,
                 offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.variable = variable
        self.offset = offset


def substitute(text: str, lookup: Lookup) -> str:
    """`envsubst.Eval(text, lookup)`: `lookup(name)` returns (value, exists).

    A name whose `exists` is False fails (strict mode) unless its operator supplies a default
    (`=`, `:=`, `:-`, `:?`, `:+`); otherwise the returned value is used as it is.
    """
    if "$" not in text and "\x00" not in text:  # nothing to expand: by far the common case
        return text
    raw = _encode(text)
    try:
        if _SIMPLE_TEXT.fullmatch(raw) is not None:  # nothing can fail to parse: expand in one go
            out = _SIMPLE_TOKEN.sub(lambda match: _expand_simple(match, lookup), raw)
        else:
            nodes = _parse_text(raw)
            out = b"".join([n if isinstance(n, bytes) else _eval(n, lookup) for n in nodes])
    except SubstitutionError as error:
        _offset_in_characters(error, raw)
        raise
    except RecursionError:
        raise SubstitutionError(ERR_TOO_DEEP) from None
    return out.decode("utf-8", "surrogateescape")


def substitute_vars(text: str, variables: Mapping[str, str], strict: bool) -> str:
    """Substitute as kustomize-controller's varSubstitution does with `vars` and `strict`.

    Strict: a missing name is unset (an error unless a default operator handles it).
    Non-strict: every name exists, missing ones with the value "".
    Does not check the names themselves; see `check_variable_names`.
    """
    def strict_lookup(name: str) -> tuple[str, bool]:
        value = variables.get(name)
        return ("", False) if value is None else (value, True)

    def lenient_lookup(name: str) -> tuple[str, bool]:
        return variables.get(name, ""), True

    return substitute(text, strict_lookup if strict else lenient_lookup)


def check_variable_names(names: Iterable[str]) -> None:
    """Reject names as varSubstitution does before substituting anything (same message)."""
    for name in names:
        if _VARIABLE_NAME.fullmatch(name) is None:
            raise SubstitutionError(
                f"'{name}' var name is invalid, must match '{VARIABLE_NAME_PATTERN}'", name)


def referenced_variables(text: str, required_only: bool = False) -> set[str]:
    """The variable names `text` references, from the same parse `substitute` uses.

    With `required_only`, only names whose absence fails strict mode: those used bare or with
    a transforming operator (every `${...}` is evaluated, even inside an unused default).
    Raises SubstitutionError when the text does not parse, as `substitute` would.
    """
    if "$" not in text:
        return set()
    raw = _encode(text)
    try:
        nodes = _parse_text(raw)
    except SubstitutionError as error:
        _offset_in_characters(error, raw)
        raise
    except RecursionError:
        raise SubstitutionError(ERR_TOO_DEEP) from None
    found: set[str] = set()
    pending = [n for n in nodes if isinstance(n, _Func)]
    while pending:
        node = pending.pop()
        if not (required_only and node.name in _DEFAULT_OPS):
            found.add(node.param)
        pending += [a for a in node.args if isinstance(a, _Func)]
    return found


# ---------------------------------------------------------------------------------------------
# Parse tree: text is bytes, an expression is a _Func (Go's TextNode and FuncNode).


@dataclass(slots=True)
class _Func:
    param: str  # the variable name
    offset: int  # byte position of its `${` in the encoded text, for error messages
    name: str = ""  # the operator ("" for a bare ${v}); selects the function, as lookupFunc
    args: list[bytes | _Func] = field(default_factory=list)


_Node = bytes | _Func


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that no Go string could have produced
        return text.encode("utf-8", "surrogatepass")


def _offset_in_characters(error: SubstitutionError, raw: bytes) -> None:
    if error.offset is not None:
        error.offset = len(raw[:error.offset].decode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------------------------------------
# Top level (Go's parseAny). Outside `${...}` only three things matter: `$$` (one literal `$`),
# `${` (an expression) and NUL, which Go's scanner cannot tell from the end of input. bytes.find
# (memchr) jumps from `$` to `$`, so long stretches of YAML never reach Python-level loops.
#
# The usual expressions, `${NAME}`, `${NAME:=text}` (any default operator) and `${NAME^^}`
# (any case operator) with an ASCII name and plain text, are recognised by _SIMPLE_FUNC; for
# them the scanner below would build exactly the same node. Anything else goes to the scanner.
# A text made only of these, `$$` and other text (no NUL) cannot fail to parse, so it is
# expanded by one re.sub (_SIMPLE_TEXT, _SIMPLE_TOKEN), in Go's order, without a tree.

_SIMPLE_FUNC_SOURCE = rb"\$\{([A-Za-z0-9_]+)(?:(:[-=?+]|=)([^}$\x00]*)|([,^]{1,2}))?\}"
_SIMPLE_FUNC = re.compile(_SIMPLE_FUNC_SOURCE)
_SIMPLE_TOKEN = re.compile(rb"\$\$|" + _SIMPLE_FUNC_SOURCE)
_SIMPLE_TEXT = re.compile(  # the same, uncaptured; atomic, so a mismatch cannot backtrack
    rb"(?:[^$\x00]++|\$\$|\$(?![{$])|\$\{[A-Za-z0-9_]+(?:(?::[-=?+]|=)[^}$\x00]*|[,^]{1,2})?\})*+")


def _simple_parts(match: re.Match[bytes]) -> tuple[str, str, list[bytes]]:
    """(name, operator, arguments) of a _SIMPLE_FUNC match."""
    operator = match.group(2) or match.group(4) or b""
    args = [match.group(3)] if match.group(3) else []
    return match.group(1).decode("ascii"), operator.decode("ascii"), args


def _expand_simple(match: re.Match[bytes], lookup: Lookup) -> bytes:
    if match.group(1) is None:  # `$$`
        return b"$"
    name, operator, args = _simple_parts(match)
    return _apply(name, operator, args, match.start(), lookup)


def _parse_text(raw: bytes) -> list[_Node]:
    nodes: list[_Node] = []
    scanner = _Scanner(raw)
    check_nul = b"\x00" in raw
    start = pos = 0  # start: of the pending text; pos: where to look for the next `$`
    while True:
        buf = scanner.buf
        dollar = buf.find(b"$", pos)
        nul = buf.find(b"\x00", pos, len(buf) if dollar < 0 else dollar) if check_nul else -1
        if nul >= 0 or dollar < 0:  # the end, for Go; the rest of the text is dropped
            nodes.append(buf[start:len(buf) if nul < 0 else nul])
            return [n for n in nodes if n != b""]
        follow = buf[dollar + 1:dollar + 2]
        if follow == b"{":
            nodes.append(buf[start:dollar])
            nodes.append(_parse_top_func(scanner, dollar))
            start = pos = scanner.pos
        elif follow == b"$":
            nodes.append(buf[start:dollar + 1])
            start = pos = dollar + 2
        else:
            pos = dollar + 1


def _parse_top_func(scanner: _Scanner, position: int) -> _Func:
    match = _SIMPLE_FUNC.match(scanner.buf, position)
    if match is None:
        return _parse_scanned_func(scanner, position)
    scanner.pos = match.end()
    name, operator, args = _simple_parts(match)
    return _Func(name, scanner.offset(position), operator, [*args])


def _parse_scanned_func(scanner: _Scanner, position: int) -> _Func:
    scanner.pos, scanner.variable = position + 2, None
    try:
        return _parse_func(scanner)
    except _ParseError as error:
        offset = scanner.offset(position)
        raise SubstitutionError(error.message, scanner.variable, offset) from None


# ---------------------------------------------------------------------------------------------
# The scanner inside `${...}`: a line-by-line port of parse/scan.go. Its state (pos, width)
# is kept exactly, because Go's results depend on it: e.g. unread() after peek() at the end
# of input does nothing (width is 0), and after a multi-byte peek it steps back too far.

_EOF = 0  # Go: `var eof = rune(0)`, so a NUL in the text reads as end of input
_RUNE_ERROR = 0xFFFD

# scan modes (Go's scanIdent, scanLbrack, scanRbrack, scanEscape)
_M_IDENT, _M_LBRACK, _M_RBRACK, _M_ESCAPE = 1, 2, 4, 8
# tokens
_T_ILLEGAL, _T_EOF, _T_IDENT, _T_LBRACK, _T_RBRACK = range(5)

_DOLLAR, _LBRACE, _RBRACE, _BACKSLASH, _SLASH = 0x24, 0x7B, 0x7D, 0x5C, 0x2F
_COLON, _EQUAL, _HASH, _PERCENT, _COMMA, _CARET = 0x3A, 0x3D, 0x23, 0x25, 0x2C, 0x5E

_DEFAULT_OPERATOR_SECOND = frozenset(b"=-?+")  # after the colon of :=, :-, :?, :+
_REPLACE_OPERATOR_SECOND = frozenset(b"/#%")  # after the slash of //, /#, /%

# Accept functions get (rune, byte offset just past it within the token), as in Go.
_Accept = Callable[[int, int], bool]


class _ParseError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _decode_rune(buf: bytes, pos: int) -> tuple[int, int]:
    """utf8.DecodeRune: (rune, width); invalid UTF-8 is (RuneError, 1)."""
    lead = buf[pos]
    if lead < 0x80:
        return lead, 1
    width = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    try:
        return ord(buf[pos:pos + width].decode("utf-8")), width
    except UnicodeDecodeError:  # Python's strict decoder rejects exactly what Go's does
        return _RUNE_ERROR, 1


class _Scanner:
    __slots__ = ("buf", "pos", "removed", "start", "variable", "width")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = self.start = self.width = 0
        self.removed = 0  # escape characters skip() took out, all before pos
        self.variable: str | None = None  # last name read, for error reports only

    def offset(self, position: int) -> int:
        """Where `position` (at or after everything removed so far) was in the input."""
        return position + self.removed

    def read(self) -> int:
        if self.pos >= len(self.buf):
            self.width = 0
            return _EOF
        rune, self.width = _decode_rune(self.buf, self.pos)
        self.pos += self.width
        return rune

    def unread(self) -> None:
        self.pos -= self.width

    def peek(self) -> int:
        rune = self.read()
        self.unread()
        return rune

    def skip(self) -> None:
        """Drop the escape character just read; the character after it joins the token."""
        self.buf = self.buf[:self.pos - 1] + self.buf[self.pos:]
        self.removed += 1

    def token(self) -> bytes:
        return self.buf[self.start:self.pos]

    def scan(self, accept: _Accept, mode: int) -> int:
        self.start = self.pos
        fast = _FAST_TOKENS.get((accept, mode))
        if fast is not None and (match := fast.match(self.buf, self.pos)) is not None:
            self.pos = match.end()  # the loop below would stop at the same byte
            return _T_IDENT
        rune = self.read()
        if rune == _EOF:
            return _T_EOF
        if self._lbrack(rune, mode):
            return _T_LBRACK
        if mode & _M_RBRACK and rune == _RBRACE:
            return _T_RBRACK
        if mode & _M_IDENT and self._ident(rune, accept, mode):
            return _T_IDENT
        return _T_ILLEGAL

    def _ident(self, rune: int, accept: _Accept, mode: int) -> bool:
        if self._escaped(rune, mode):
            self.skip()
        elif not accept(rune, self.pos - self.start):
            return False
        while True:
            rune = self.read()
            if rune == _EOF:
                self.unread()
                return True
            if self._lbrack(rune, mode):  # stop in front of the `${`
                self.unread()
                self.unread()
                return True
            if self._escaped(rune, mode):
                self.skip()
            elif not accept(rune, self.pos - self.start):
                self.unread()
                return True

    def _lbrack(self, rune: int, mode: int) -> bool:
        if not mode & _M_LBRACK or rune != _DOLLAR:
            return False
        if self.read() == _LBRACE:
            return True
        self.unread()
        return False

    def _escaped(self, rune: int, mode: int) -> bool:
        # Inside `${...}` Go's escape set is always escapeAll: `$$`, `\/` and `\\`.
        if not mode & _M_ESCAPE:
            return False
        if rune == _DOLLAR:
            return self.peek() == _DOLLAR
        return rune == _BACKSLASH and self.peek() in (_SLASH, _BACKSLASH)


# Go's unicode.IsLetter/IsDigit follow Unicode 15.0.0; these letters and digits are newer
# than Python 3.11's Unicode 14.0.0 database (list derived from Go 1.26's tables). A Python
# with a newer database than Go's would accept letters Go does not know yet.
_UNICODE_15_IDENT = (
    (0x1123F, 0x11240), (0x11F02, 0x11F02), (0x11F04, 0x11F10), (0x11F12, 0x11F33),
    (0x11F50, 0x11F59), (0x1342F, 0x1342F), (0x13441, 0x13446), (0x1B132, 0x1B132),
    (0x1B155, 0x1B155), (0x1DF25, 0x1DF2A), (0x1E030, 0x1E06D), (0x1E4D0, 0x1E4EB),
    (0x1E4F0, 0x1E4F9), (0x2B739, 0x2B739), (0x31350, 0x323AF),
)


def _accept_ident(rune: int, _i: int) -> bool:
    if rune < 0x80:
        return rune == 0x5F or chr(rune).isalnum()
    char = chr(rune)
    return (char.isalpha() or char.isdecimal()
            or any(low <= rune <= high for low, high in _UNICODE_15_IDENT))


def _accept_not_closing(rune: int, _i: int) -> bool:
    return rune != _RBRACE


def _reject_colon_close(rune: int, _i: int) -> bool:
    return rune not in (_COLON, _RBRACE)


def _accept_not_slash(rune: int, _i: int) -> bool:
    return rune != _SLASH


def _accept_colon(rune: int, _i: int) -> bool:
    return rune == _COLON


def _accept_slash(rune: int, _i: int) -> bool:
    return rune == _SLASH


def _accept_one_colon(rune: int, i: int) -> bool:
    return rune == _COLON and i == 1


def _accept_one_equal(rune: int, i: int) -> bool:
    return rune == _EQUAL and i == 1


def _accept_one_hash(rune: int, i: int) -> bool:
    return rune == _HASH and i == 1


def _accept_hash_func(rune: int, i: int) -> bool:
    return rune == _HASH and i < 3


def _accept_percent_func(rune: int, i: int) -> bool:
    return rune == _PERCENT and i < 3


def _accept_casing_func(rune: int, i: int) -> bool:
    return rune in (_COMMA, _CARET) and i < 3


def _accept_default_func(rune: int, i: int) -> bool:
    return (i == 1 and rune == _COLON) or (i == 2 and rune in _DEFAULT_OPERATOR_SECOND)


def _accept_replace_func(rune: int, i: int) -> bool:
    return (i == 1 and rune == _SLASH) or (i == 2 and rune in _REPLACE_OPERATOR_SECOND)


# Regexes for the common tokens, equivalent to the rune-by-rune loop when they match (which
# leaves `width` different, but every caller reads again before any unread). A token that
# does not match, such as a name with non-ASCII letters, takes the loop.
_TEXT_UNTIL = rb"(?:[^%s\x00$]|\$(?!\{))+"  # stops at NUL (end of input) and at `${`
_FAST_TOKENS: dict[tuple[_Accept, int], re.Pattern[bytes]] = {
    (_accept_ident, _M_IDENT): re.compile(rb"[A-Za-z0-9_]++(?![\x80-\xff])"),
    (_accept_not_closing, _M_IDENT | _M_LBRACK): re.compile(_TEXT_UNTIL % b"}"),
    (_reject_colon_close, _M_IDENT | _M_LBRACK): re.compile(_TEXT_UNTIL % b":}"),
}


# ---------------------------------------------------------------------------------------------
# The parser inside `${...}`: parse/parse.go function by function.


def _parse_func(sc: _Scanner) -> _Func:
    """After `${`: the expression up to and including its `}`."""
    offset = sc.offset(sc.pos - 2)
    if sc.peek() == _HASH:
        return _parse_len_func(sc, offset)
    if sc.scan(_accept_ident, _M_IDENT) != _T_IDENT:
        raise _ParseError(ERR_PARSE_VARIABLE_NAME)
    node = _Func(_name(sc), offset)
    follow = sc.peek()
    if follow == _COLON:
        return _parse_default_or_substr(sc, node)
    if follow == _EQUAL:
        return _parse_default_func(sc, node)
    if follow in (_COMMA, _CARET):
        return _parse_operator_only(sc, node, _accept_casing_func)
    if follow == _SLASH:
        return _parse_replace_func(sc, node)
    if follow in (_HASH, _PERCENT):
        accept = _accept_hash_func if follow == _HASH else _accept_percent_func
        return _parse_remove_func(sc, node, accept)
    if sc.scan(_accept_ident, _M_RBRACK) != _T_RBRACK:
        raise _ParseError(ERR_MISSING_CLOSING_BRACE)
    return node


def _name(sc: _Scanner) -> str:
    sc.variable = sc.token().decode("utf-8")  # identifier runes are always valid UTF-8
    return sc.variable


def _parse_param(sc: _Scanner, accept: _Accept, mode: int) -> _Node:
    token = sc.scan(accept, mode | _M_LBRACK)
    if token == _T_LBRACK:
        return _parse_func(sc)
    if token in (_T_IDENT, _T_RBRACK):
        return sc.token()
    raise _ParseError(ERR_PARSE_FUNC_SUBSTITUTION)


def _operator(sc: _Scanner, node: _Func, accept: _Accept, error: str) -> None:
    if sc.scan(accept, _M_IDENT) != _T_IDENT:
        raise _ParseError(error)
    node.name = sc.token().decode("utf-8")


def _consume_rbrack(sc: _Scanner) -> None:
    if sc.scan(_accept_not_closing, _M_RBRACK) != _T_RBRACK:
        raise _ParseError(ERR_BAD_SUBSTITUTION)


def _parse_default_or_substr(sc: _Scanner, node: _Func) -> _Func:
    # Go's read/peek/unread: when the peek hits the end of input (or a multi-byte rune) the
    # final unread moves by the peeked width, not the colon's. Kept: it decides the error.
    sc.read()
    follow = sc.peek()
    sc.unread()
    if follow in _DEFAULT_OPERATOR_SECOND:
        return _parse_default_func(sc, node)
    return _parse_substr_func(sc, node)


def _parse_substr_func(sc: _Scanner, node: _Func) -> _Func:
    """${v:offset} and ${v:offset:length}."""
    _operator(sc, node, _accept_one_colon, ERR_BAD_SUBSTITUTION)
    node.args.append(_parse_param(sc, _reject_colon_close, _M_IDENT))
    delimiter = sc.scan(_accept_colon, _M_IDENT | _M_RBRACK)
    if delimiter == _T_RBRACK:
        return node
    if delimiter != _T_IDENT:
        raise _ParseError(ERR_BAD_SUBSTITUTION)
    node.args.append(_parse_param(sc, _accept_not_closing, _M_IDENT))
    _consume_rbrack(sc)
    return node


def _parse_remove_func(sc: _Scanner, node: _Func, accept: _Accept) -> _Func:
    """${v#p}, ${v##p}, ${v%p}, ${v%%p}."""
    _operator(sc, node, accept, ERR_BAD_SUBSTITUTION)
    node.args.append(_parse_param(sc, _accept_not_closing, _M_IDENT))
    _consume_rbrack(sc)
    return node


def _parse_replace_func(sc: _Scanner, node: _Func) -> _Func:
    """${v/p/r}, ${v//p/r}, ${v/#p/r}, ${v/%p/r}; the replacement may be empty."""
    _operator(sc, node, _accept_replace_func, ERR_BAD_SUBSTITUTION)
    node.args.append(_parse_param(sc, _accept_not_slash, _M_IDENT | _M_ESCAPE))
    if sc.scan(_accept_slash, _M_IDENT) != _T_IDENT:
        raise _ParseError(ERR_BAD_SUBSTITUTION)
    if sc.peek() != _RBRACE:
        node.args.append(_parse_param(sc, _accept_not_closing, _M_IDENT | _M_ESCAPE))
    _consume_rbrack(sc)
    return node


def _parse_default_func(sc: _Scanner, node: _Func) -> _Func:
    """${v=d}, ${v:=d}, ${v:-d}, ${v:?d}, ${v:+d}: d is any mix of text and expressions."""
    accept = _accept_one_equal if sc.peek() == _EQUAL else _accept_default_func
    _operator(sc, node, accept, ERR_PARSE_DEFAULT_FUNCTION)
    while sc.peek() != _RBRACE:
        node.args.append(_parse_param(sc, _accept_not_closing, _M_IDENT))
    _consume_rbrack(sc)
    return node


def _parse_operator_only(sc: _Scanner, node: _Func, accept: _Accept) -> _Func:
    """${v^}, ${v^^}, ${v,}, ${v,,} (and ${v^,}, ${v,^}, which return the value as is)."""
    _operator(sc, node, accept, ERR_BAD_SUBSTITUTION)
    _consume_rbrack(sc)
    return node


def _parse_len_func(sc: _Scanner, offset: int) -> _Func:
    """${#v}."""
    if sc.scan(_accept_one_hash, _M_IDENT) != _T_IDENT:
        raise _ParseError(ERR_BAD_SUBSTITUTION)
    if sc.scan(_accept_ident, _M_IDENT) != _T_IDENT:
        raise _ParseError(ERR_BAD_SUBSTITUTION)
    node = _Func(_name(sc), offset, "#")
    _consume_rbrack(sc)
    return node


# ---------------------------------------------------------------------------------------------
# Evaluation (template.go). Arguments are evaluated first, every time, even a default that
# ends up unused, so strict mode also fails on names that only appear inside a default.

# Operators that handle an unset variable themselves (template.go's isDefaultOp).
_DEFAULT_OPS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})


def _eval(node: _Func, lookup: Lookup) -> bytes:
    args = [a if isinstance(a, bytes) else _eval(a, lookup) for a in node.args]
    return _apply(node.param, node.name, args, node.offset, lookup)


def _apply(param: str, operator: str, args: list[bytes], offset: int, lookup: Lookup) -> bytes:
    """Look `param` up and apply `operator` to it (evalFunc after its arguments)."""
    value, exists = lookup(param)
    if not exists and operator not in _DEFAULT_OPS:
        raise SubstitutionError(f'{ERR_VAR_NOT_SET}: "{param}"', param, offset)
    function = _FUNCTIONS.get(operator, _to_default)
    if operator == "#" and not args:
        function = _to_len
    try:
        return function(_encode(value), args)
    except _GoPanic as panic:
        raise SubstitutionError(panic.message, param, offset) from None


class _GoPanic(Exception):
    """A runtime panic the Go code would hit; Flux reports it as a failed reconciliation."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------
# The functions (funcs.go). They work on bytes, as Go strings are bytes.

_Function = Callable[[bytes, list[bytes]], bytes]


def _to_len(value: bytes, _args: list[bytes]) -> bytes:
    return str(len(value)).encode()


def _to_default(value: bytes, args: list[bytes]) -> bytes:
    return b"".join(args) if not value and args else value


def _to_upper(value: bytes, _args: list[bytes]) -> bytes:
    if value.isascii():
        return value.upper()
    return _runes(value).translate(_UPPER).encode()


def _to_lower(value: bytes, _args: list[bytes]) -> bytes:
    if value.isascii():
        return value.lower()
    return _runes(value).translate(_LOWER).encode()


def _to_upper_first(value: bytes, _args: list[bytes]) -> bytes:
    return _map_first(value, _UPPER)


def _to_lower_first(value: bytes, _args: list[bytes]) -> bytes:
    return _map_first(value, _LOWER)


def _map_first(value: bytes, table: _CaseTable) -> bytes:
    if not value:
        return value
    rune, width = _decode_rune(value, 0)
    return table[rune].encode() + value[width:]


def _runes(value: bytes) -> str:
    """The string as Go ranges over it: invalid bytes come out as lone surrogates here."""
    return value.decode("utf-8", "surrogateescape")


class _CaseTable(dict[int, str]):
    """Go's unicode.ToUpper/ToLower for str.translate, filled in as characters turn up.

    Go maps one rune to one rune (simple case mapping), while Python's str.upper() applies
    the full mapping ("ß" -> "SS"), so characters Python expands get Go's result from
    `simple`, or stay as they are. An invalid byte (a lone surrogate) becomes U+FFFD, as in
    strings.Map. Compared rune by rune with Go 1.26 (Unicode 15.0.0) on Python 3.11, these
    are the only differences; a Python whose Unicode database is newer than Go's may also
    case-map characters that Go does not know yet.
    """

    def __init__(self, full: Callable[[str], str], simple: Mapping[str, str]) -> None:
        super().__init__()
        self._full, self._simple = full, simple

    def __missing__(self, rune: int) -> str:
        char = chr(rune)
        if 0xD800 <= rune <= 0xDFFF:
            mapped = "\ufffd"
        elif len(mapped := self._full(char)) != 1:
            mapped = self._simple.get(char, char)
        self[rune] = mapped
        return mapped


# Where Python's full upper-casing expands a character but Go's simple mapping changes it.
_SIMPLE_UPPER = {
    **{chr(code): chr(code + 8) for start in (0x1F80, 0x1F90, 0x1FA0)
       for code in range(start, start + 8)},
    "\u1fb3": "\u1fbc", "\u1fc3": "\u1fcc", "\u1ff3": "\u1ffc",
}
_UPPER = _CaseTable(str.upper, _SIMPLE_UPPER)
_LOWER = _CaseTable(str.lower, {"\u0130": "i"})  # İ


_DECIMAL = re.compile(rb"([+-]?)([0-9]+)")


def _atoi(arg: bytes) -> int | None:
    """strconv.Atoi: optional sign, ASCII digits, within int64; None where Go errs."""
    match = _DECIMAL.fullmatch(arg)
    if match is None:
        return None
    digits = match.group(2).lstrip(b"0")
    if len(digits) > 19:  # out of range for sure (and too long for int() to parse quickly)
        return None
    number = -int(digits or b"0") if match.group(1) == b"-" else int(digits or b"0")
    return number if _GO_INT_MIN <= number <= _GO_INT_MAX else None


def _to_substr(value: bytes, args: list[bytes]) -> bytes:
    pos = _atoi(args[0])
    if pos is None:  # like bash, an offset that does not parse returns the value
        return value
    if pos < 0:
        pos = max(len(value) + pos, 0)
    if len(args) == 1:
        return value[pos:]
    length = _atoi(args[1])
    if length is None:
        return value
    if length < 0:
        end = len(value) + length
        return b"" if end < pos else value[pos:end]
    end = pos + length
    if end > _GO_INT_MAX:  # int overflow in Go: a negative bound, and the slice panics
        raise _GoPanic(f"runtime error: slice bounds out of range [:{end - (1 << 64)}]")
    return value[pos:] if end >= len(value) else value[pos:end]


def _replace_all(value: bytes, args: list[bytes]) -> bytes:
    return _go_replace(value, args[0], args[1] if len(args) > 1 else b"", -1)


def _replace_first(value: bytes, args: list[bytes]) -> bytes:
    return _go_replace(value, args[0], args[1] if len(args) > 1 else b"", 1)


def _go_replace(value: bytes, old: bytes, new: bytes, count: int) -> bytes:
    if old:
        return value.replace(old, new, count)
    # An empty pattern matches before every rune and at the end, as in strings.Replace.
    return _runes(value).replace("", _runes(new), count).encode("utf-8", "surrogateescape")


def _replace_prefix(value: bytes, args: list[bytes]) -> bytes:
    if len(args) != 2 or not value.startswith(args[0]):  # needs a replacement, even ""
        return value
    return args[1] + value[len(args[0]):]


def _replace_suffix(value: bytes, args: list[bytes]) -> bytes:
    if len(args) != 2 or not value.endswith(args[0]):
        return value
    return value[:len(value) - len(args[0])] + args[1]


def _trim_shortest_prefix(value: bytes, args: list[bytes]) -> bytes:
    return _trim_shortest(value, args[0])


def _trim_longest_prefix(value: bytes, args: list[bytes]) -> bytes:
    return _trim_longest(value, args[0])


def _trim_shortest_suffix(value: bytes, args: list[bytes]) -> bytes:
    # Go reverses the value and the pattern rune by rune and trims a prefix, then reverses
    # back: invalid bytes become U+FFFD and the pattern's syntax is reversed too.
    return _reverse(_trim_shortest(_reverse(value), _reverse(args[0])))


def _trim_longest_suffix(value: bytes, args: list[bytes]) -> bytes:
    return _reverse(_trim_longest(_reverse(value), _reverse(args[0])))


def _reverse(value: bytes) -> bytes:
    return _runes(value).translate(_INVALID_TO_RUNE_ERROR)[::-1].encode()


_INVALID_TO_RUNE_ERROR = dict.fromkeys(range(0xDC80, 0xDD00), "\ufffd")


def _trim_shortest(value: bytes, pattern: bytes) -> bytes:
    # Every non-empty prefix, longest first, as Go does; a bad pattern trims nothing.
    shortest = 0
    for end in range(len(value), 0, -1):
        try:
            if _match(pattern, value[:end]):
                shortest = end
        except _BadPattern:
            return value
    return value[shortest:]


def _trim_longest(value: bytes, pattern: bytes) -> bytes:
    for end in range(len(value), 0, -1):
        try:
            if _match(pattern, value[:end]):
                return value[end:]
        except _BadPattern:
            return value
    return value


_FUNCTIONS: dict[str, _Function] = {
    ",": _to_lower_first, ",,": _to_lower, "^": _to_upper_first, "^^": _to_upper,
    "#": _trim_shortest_prefix, "##": _trim_longest_prefix,
    "%": _trim_shortest_suffix, "%%": _trim_longest_suffix,
    ":": _to_substr,
    "/#": _replace_prefix, "/%": _replace_suffix, "/": _replace_first, "//": _replace_all,
}


# ---------------------------------------------------------------------------------------------
# Glob matching: envsubst's fork of Go's path.Match (a trailing `*` also matches `/`), on bytes.


class _BadPattern(Exception):
    """path.ErrBadPattern."""


def _match(pattern: bytes, name: bytes) -> bool:
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return True
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if not star:
            return False
        for skip in range(1, len(name) + 1):  # let the star eat `skip` bytes
            rest = _match_chunk(chunk, name[skip:])
            if rest is not None and (not rest or pattern):
                name = rest
                break
        else:
            return False
    return not name


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    """(a star precedes, the chunk up to the next star outside [...], the rest)."""
    stripped = pattern.lstrip(b"*")
    star = len(stripped) != len(pattern)
    in_range = False
    i = 0
    while i < len(stripped):
        byte = stripped[i]
        if byte == _BACKSLASH:
            i += 1 if i + 1 < len(stripped) else 0
        elif byte == 0x5B:  # [
            in_range = True
        elif byte == 0x5D:  # ]
            in_range = False
        elif byte == 0x2A and not in_range:  # *
            break
        i += 1
    return star, stripped[:i], stripped[i:]


def _match_chunk(chunk: bytes, name: bytes) -> bytes | None:
    """What remains of `name` after `chunk` matches its start, or None."""
    while chunk:
        if not name:
            return None
        byte = chunk[0]
        if byte == 0x5B:  # [
            chunk, name, matched = _match_class(chunk[1:], name)
            if not matched:
                return None
        elif byte == 0x3F:  # ?
            name = name[_decode_rune(name, 0)[1]:]
            chunk = chunk[1:]
        else:
            if byte == _BACKSLASH:
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPattern
            if chunk[0] != name[0]:
                return None
            name, chunk = name[1:], chunk[1:]
    return name


def _match_class(chunk: bytes, name: bytes) -> tuple[bytes, bytes, bool]:
    """A [...] class against the first rune of `name`: (rest of chunk, rest of name, hit)."""
    rune, width = _decode_rune(name, 0)
    negated = chunk[:1] == b"^"
    if negated:
        chunk = chunk[1:]
    matched = False
    ranges = 0
    while not (chunk[:1] == b"]" and ranges > 0):
        low, chunk = _get_esc(chunk)
        high = low
        if chunk[0] == 0x2D:  # -
            high, chunk = _get_esc(chunk[1:])
        matched = matched or low <= rune <= high
        ranges += 1
    return chunk[1:], name[width:], matched != negated


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    """A possibly escaped rune of a class; the class must go on after it."""
    if not chunk or chunk[0] in b"-]":
        raise _BadPattern
    if chunk[0] == _BACKSLASH:
        chunk = chunk[1:]
        if not chunk:
            raise _BadPattern
    rune, width = _decode_rune(chunk, 0)
    if (rune == _RUNE_ERROR and width == 1) or len(chunk) == width:
        raise _BadPattern
    return rune, chunk[width:]
