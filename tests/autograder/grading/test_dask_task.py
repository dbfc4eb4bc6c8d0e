"""What a Dask task carries to a worker: each student's seed, never the course secret."""

import base64
import pickle

from autograder.grading import batch
from autograder.grading.job import GradingOptions, job_for, plan_for
from autograder.grading.library.seeds import load_or_create_secret, student_seed

from ..conftest import new_layout

ASSIGNMENT = "conv_pool"


def test_the_task_sent_to_a_worker_carries_the_students_seed_and_never_the_course_secret(tmp_path):
    distributed_pickle = __import__("distributed.protocol.pickle", fromlist=["dumps"])
    layout = new_layout(tmp_path)
    plan = plan_for(layout, ASSIGNMENT, GradingOptions())
    job = job_for(layout, plan, "ada")
    secret = load_or_create_secret(layout.secret_file)
    sent = distributed_pickle.dumps(job)   # what Client.submit puts on the wire for the task's argument
    assert pickle.loads(sent).seed == student_seed(secret, "ada", ASSIGNMENT)
    for form in (secret, secret.hex().encode(), base64.b64encode(secret), str(list(secret)).encode(),
                 str(layout.secret_file).encode(), layout.secret_file.name.encode()):
        assert form not in sent


def test_a_student_whose_workers_all_died_is_reported_not_graded_never_dropped():
    # What Dask raises once a task has killed allowed-failures + 1 workers: the batch goes on, and the
    # student is an internal error (grade prints "NOT GRADED ... run grade again" and exits 1).
    from types import SimpleNamespace

    from distributed import KilledWorker

    class Lost:
        def result(self):
            raise KilledWorker("grade-conv_pool-ada-1", SimpleNamespace(address="tcp://10.0.0.7:40123"), 3)

    student, result, error = batch._outcome("ada", Lost())
    assert (student, result) == ("ada", None)
    assert error.startswith("distributed.scheduler.KilledWorker: Attempted to run task 'grade-conv_pool-ada-1' "
                            "on 4 different workers"), error
    assert "tcp://10.0.0.7:40123" in error
