"""The `retrieval` arm (dream.search.retrieval): grammatical mutations whose new statements are borrowed from the
database programs nearest to the target, with no model."""
import pytest

import logo
from data.db import Database
from dream.search.retrieval import RetrievalPool, RetrievalProposer
from dream.search.frontier import Search
from dream.search.solver import Solver
from logo.canonical import canonical
from logo.tree_path import closed_statements

TARGET_TEXT = "(loop i 4 (move ul (/ ua 4)))"
OTHERS = ["(move 1 ua)", "(embed (move 2 0))", "(loop i 3 (move 1 (/ ua 3)))"]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "db.sqlite"
    db = Database(path, image_size=32)
    db.insert_many([TARGET_TEXT] + OTHERS)
    db.close()
    return path


@pytest.fixture()
def db(db_path):
    d = Database(db_path)
    yield d
    d.close()


def pool_texts(pool):
    return {logo.to_text(canonical(logo.ast.Program((), (s,)))) for s in pool}


def test_pool_holds_the_closed_statements_of_the_nearest_entries(db):
    pool = RetrievalPool(db, k=1)(logo.render(TARGET_TEXT, 32))
    assert pool_texts(pool) == set(closed_statements(canonical(logo.parse(TARGET_TEXT))))
    wider = pool_texts(RetrievalPool(db, k=10)(logo.render(TARGET_TEXT, 32)))
    assert pool_texts(pool) < wider                    # every entry lends its statements
    assert RetrievalPool(None)(logo.render(TARGET_TEXT, 32)) == []       # no database: nothing to borrow


def test_with_share_one_every_insertion_into_the_empty_program_is_borrowed(db):
    p = RetrievalProposer(n=12, seed=0, share=1.0)
    p.attach(db)
    target = logo.render(TARGET_TEXT, 32)
    pool = pool_texts(p.pools(target))
    out = p([None], [target], [""])[0]
    assert len(out) == 12
    for c in out:                       # the empty program admits only inserts: one borrowed statement each
        assert isinstance(c, logo.Program) and logo.parse(logo.to_text(c)) == c
        assert len(c.body) == 1 and logo.to_text(canonical(c)) in pool


def test_borrowed_statements_are_renamed_below_the_sites_loops(db):
    p = RetrievalProposer(n=64, seed=1, share=1.0)
    p.attach(db)
    start = "(loop i 2 (move 1 0))"
    for c in p([None], [logo.render(TARGET_TEXT, 32)], [start])[0]:
        logo.render(logo.to_text(c), 32)           # no free or shadowed loop variable: every candidate runs


def test_retrieval_solves_from_the_empty_program_in_the_search_and_the_solver_attaches_its_database(db_path):
    solver = Solver.open(["retrieval"], db=db_path)
    try:
        p = solver.proposer("retrieval")
        assert p.pools.db is solver.db
        s = Search(p, logo.render(TARGET_TEXT, 32), logo.render(TARGET_TEXT, 28), image_size=32, starts=[""],
                   batch=4)
        r = s.run(budget_s=30, max_rounds=5)
        assert r.solved
    finally:
        solver.close()
