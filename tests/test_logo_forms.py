"""One grammar of the DSL (`logo.forms`): the lark grammar, the AST, the parsers, the probabilistic grammar and
the decoders' token grammar say what `logo.forms` says."""
import dataclasses
import re
from importlib import resources

import pytest

from logo import forms
from logo.ast import FORM_OF, STATEMENT_CLASSES, Call
from logo.forms import BODY, CALL, CONSTANTS, DEFINE, DIGITS, KEYWORDS, OPERATORS, ROLES, STATEMENT_FORMS, VAR
from logo.pcfg import BASE_STATEMENTS, BLOCKS, EXPRESSIONS, PREVS, Grammar, derivation
from logo.syntax import _fast_parse, _parser, parse_with_lark, to_text
from logo.tokens import tokenize


def lark_statement_slots() -> dict[str, tuple[str, ...]]:
    """keyword -> what each of its slots is in grammar.lark ("expr", VAR or BODY), from the longest alternative
    of each statement rule (the statement lists are optional there, so every form has a shorter one too)."""
    parser = _parser()
    lists = {r.origin.name for r in parser.rules if [s.name for s in r.expansion] == ["stmt"]}
    out: dict[str, tuple[str, ...]] = {}
    for r in parser.rules:
        names = [s.name for s in r.expansion]
        if r.origin.name != "stmt" or r.alias == "call" or len(names) < 3:
            continue
        assert names[0] == "LPAR" and names[-1] == "RPAR"
        slots = tuple(VAR if n == "NAME" else BODY if n in lists else n for n in names[2:-1])
        keyword = names[1].lower()
        if len(slots) > len(out.get(keyword, ())):
            out[keyword] = slots
        assert r.alias == keyword
    return out


def lark_terminal(name: str) -> str:
    return next(t.pattern.value for t in _parser().terminals if t.name == name)


def example(form: str) -> str:
    """A program text using `form` once, every slot filled."""
    fill = {"length": "(* 2 ul)", "angle": "(/ ua 4)", "count": "inf", VAR: "i", BODY: "(move ul 0)"}
    return f"({form} {' '.join(fill[s] for s in STATEMENT_FORMS[form])})"


def test_the_lark_grammar_has_the_statement_forms_and_slots():
    expected = {form: tuple("expr" if s in ROLES else s for s in slots) for form, slots in STATEMENT_FORMS.items()}
    assert lark_statement_slots() == expected


def test_the_lark_grammar_has_the_constants_operators_and_keywords():
    const = re.fullmatch(r"\((.*)\)\(\?!\[A-Za-z0-9_\]\)", lark_terminal("CONST"))
    assert tuple(const.group(1).split("|")) == tuple(CONSTANTS)
    assert tuple(re.findall(r"\\?([-+*/])", lark_terminal("OP"))) == OPERATORS
    keywords = {t.name.lower() for t in _parser().terminals if t.pattern.value.isalpha()}
    assert keywords == set(STATEMENT_FORMS) | {DEFINE}
    assert KEYWORDS == keywords | set(CONSTANTS)
    assert lark_terminal("INT") == "[0-9]+" and DIGITS == tuple(range(10))     # one digit: `literal_value`
    text = resources.files("logo").joinpath("grammar.lark").read_text()
    assert all(f'"{k}"' in text for k in (*STATEMENT_FORMS, DEFINE))


def test_each_forms_slots_are_its_ast_fields_and_a_body_comes_last():
    for form, slots in STATEMENT_FORMS.items():
        assert tuple(f.name for f in dataclasses.fields(STATEMENT_CLASSES[form])) == slots
        assert BODY not in slots[:-1]
    assert STATEMENT_CLASSES[CALL] is Call and set(FORM_OF.values()) == {*STATEMENT_FORMS, CALL}
    assert forms.BLOCK_FORMS == ("loop", "embed", "penup")
    assert forms.STATEMENT_ROLES == ("length", "angle", "count")
    assert set(forms.ROLE_CONSTANTS) == set(ROLES)
    assert all(set(c) <= set(CONSTANTS) for c in forms.ROLE_CONSTANTS.values())


@pytest.mark.parametrize("form", list(STATEMENT_FORMS))
def test_every_reader_reads_each_form_alike(form):
    """The fast parser, the lark parser and the decoders' token grammar build the same tree; the
    probabilistic grammar derives it with the form's production."""
    from model.grammar import STMT, Grammar as TokenGrammar, build, walk_masks
    from model.tokenizer import Tokenizer
    text = example(form)
    program = parse_with_lark(text)
    assert _fast_parse(text) == program and to_text(program) == text
    assert build(tokenize(text), STMT) == program.body[0]
    tok = Tokenizer()
    assert walk_masks(TokenGrammar(tok), STMT, (), 0, 48, tok.encode(tokenize(text))) is not None
    assert derivation(program, {})[0] == (("stmt", "top", "start"), form)
    assert Grammar.uniform().logp(program) < 0


def test_the_probabilistic_grammar_reads_its_productions_from_the_forms():
    """The public tables of `logo.pcfg` keep their values (a recognition model is built on them)."""
    assert BLOCKS == ("top", "loop", "embed", "penup")
    assert PREVS == ("start", "move", "loop", "embed", "penup", "call")
    assert BASE_STATEMENTS == ("stop", "move", "loop", "embed", "penup")
    assert EXPRESSIONS[:5] == tuple(f"const:{c}" for c in CONSTANTS) and EXPRESSIONS[-4:] == tuple(
        f"op:{o}" for o in OPERATORS)


def test_the_token_grammar_keeps_its_nonterminal_order_and_role_constants():
    """A policy checkpoint embeds the nonterminals by index: their order cannot change."""
    from model.grammar import NONTERMINALS, ROLE_CONSTANTS, ROLE_NT
    assert NONTERMINALS == ("stmt", "length", "angle", "count", "arg", "pool")
    assert {NONTERMINALS[nt]: c for nt, c in ROLE_CONSTANTS.items()} == forms.ROLE_CONSTANTS
    assert all(NONTERMINALS[ROLE_NT[r]] == r for r in ROLES)


def test_one_table_of_loop_variable_names():
    import logo.canonical
    import logo.enumeration
    import model.tokenizer
    assert logo.canonical.LOOP_VARS is forms.LOOP_VARS
    assert logo.enumeration.LOOP_VARS is forms.LOOP_VARS
    assert set(forms.LOOP_VARS) <= set(model.tokenizer.BASE_TOKENS)
