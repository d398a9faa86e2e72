"""At least 10 kinds of malformed input per app, each through the app's batch CLI: every kind
gives an error row with a one-line reason, a repaired record or a one-line refusal, and the good
rows next to it are predicted. The kinds are listed in ``bad_inputs.py``; the benchmark reports
the same run per app."""

import pytest

from tests.reliability.bad_inputs import BUILDERS, run_app, tally


@pytest.mark.parametrize("app", sorted(BUILDERS))
def test_every_kind_of_bad_input_is_handled_cleanly(tmp_path, tiny_models_root, app):
    suite = BUILDERS[app](tiny_models_root)
    results = run_app(suite, tmp_path)
    counts = tally(results)
    assert counts["tried"] >= 10
    problems = [f"{r['kind']}: expected {r['expect']}, got {r['outcome']} ({r['detail']})" for r in results if not r["clean"]]
    assert not problems, "\n".join(problems)
    assert counts == {"tried": len(suite.cases), "clean": len(suite.cases), "crashed": 0}
