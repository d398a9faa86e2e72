"""SIGKILL a batch job at random moments, rerun it until it finishes, and compare with an
uninterrupted run: no row lost or duplicated, identical records and error rows, no leftovers.

CI runs 3 seeded kills per job; ``benchmarks/reliability.py`` runs the same jobs with 20 each.
"""

import pytest

from tests.reliability.jobs import batch_jobs, run_job

KILLS = 3
JOBS = batch_jobs(synthetic_rows=400)


@pytest.mark.parametrize("index", range(len(JOBS)), ids=[job.slug for job in JOBS])
def test_batch_job_survives_kills(tmp_path, tiny_models_root, index):
    job = JOBS[index]
    found = run_job(job, tmp_path, tiny_models_root, KILLS, seed=index)
    assert found["kills"] == KILLS
    if job.shards is not None:
        assert found["shards"] == job.shards
    assert found["rows"] > 0, found  # an all-error job would compare equal too
    assert (found["lost"], found["duplicated"], found["tmp_leftovers"]) == (0, 0, []), found
    assert found["same_records"] and found["same_errors"] and found["same_files"], found
