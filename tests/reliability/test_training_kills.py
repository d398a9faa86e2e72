"""SIGKILL each app's training run at seeded moments, then ``--resume``: the same step count,
the same final metric (``METRIC_RTOL``) and weights as an uninterrupted run, and no half-written
checkpoint left where a resume could load it. CI kills each run twice; the benchmark 10 times."""

import pytest

from tests.reliability.training_jobs import METRIC_RTOL, TRAIN_JOBS, kill_and_resume

KILLS = 2


@pytest.mark.parametrize("job", TRAIN_JOBS, ids=[job.app for job in TRAIN_JOBS])
def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path, tiny_models_root, job):
    found = kill_and_resume(job, tmp_path, tiny_models_root, KILLS, seed=7)
    assert found["kills"] == KILLS and found["runs"] == KILLS + 1
    assert found["steps"] == found["expected_steps"] == job.steps
    assert found["value"] == pytest.approx(found["expected_value"], rel=METRIC_RTOL)
    assert found["checkpoints_whole"], found
    assert found["max_weight_difference"] == 0.0, found  # resume is exact on one thread
